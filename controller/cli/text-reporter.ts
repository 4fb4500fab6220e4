/**
 * Human output: on a TTY one live bar per item with bytes, rate and ETA,
 * redrawn at most ten times a second; without a TTY, plain lines at every
 * tenth of an item. Messages go to stderr so stdout stays clean for data.
 */
import { formatBytes, type Reporter } from './reporter.js';
import { formatRetryLine, type RetryNotice } from './retry-notice.js';

interface Bar {
  done: number;
  total: number;
  started: number;
  lastTenth: number;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Renders a Reporter as text on `out` (stderr by default). */
export class TextReporter implements Reporter {
  private readonly bars = new Map<string, Bar>();
  private drawn = 0;
  private lastDraw = 0;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly tty: boolean = process.stderr.isTTY === true,
    /** Show debug lines (KVMCTL_DEBUG set to anything but "" or "0"). */
    private readonly showDebug: boolean = !['', '0', undefined].includes(process.env.KVMCTL_DEBUG),
  ) {}

  private line(text: string): void {
    this.clearBars();
    this.out.write(`${text}\n`);
    this.drawBars();
  }

  private clearBars(): void {
    if (!this.tty || this.drawn === 0) return;
    this.out.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }

  private render(item: string, bar: Bar): string {
    const width = 24;
    const fraction = bar.total > 0 ? Math.min(1, bar.done / bar.total) : 0;
    const filled = Math.round(fraction * width);
    const seconds = (Date.now() - bar.started) / 1000;
    const rate = seconds > 0 ? bar.done / seconds : 0;
    const eta = rate > 0 ? (bar.total - bar.done) / rate : Infinity;
    return `  ${item.padEnd(28).slice(0, 28)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${formatBytes(bar.done)} / ${formatBytes(bar.total)}  ${formatBytes(rate)}/s  ETA ${duration(eta)}`;
  }

  private drawBars(): void {
    if (!this.tty || this.bars.size === 0) return;
    for (const [item, bar] of this.bars) this.out.write(`${this.render(item, bar)}\n`);
    this.drawn = this.bars.size;
    this.lastDraw = Date.now();
  }

  phase(name: string, detail?: string): void {
    this.line(`${name}${detail ? `: ${detail}` : ''}`);
  }

  progress(item: string, done: number, total: number): void {
    let bar = this.bars.get(item);
    if (!bar) {
      bar = { done: 0, total, started: Date.now(), lastTenth: -1 };
      this.bars.set(item, bar);
    }
    bar.done = done;
    bar.total = total;
    if (this.tty) {
      if (Date.now() - this.lastDraw >= 100 || done >= total) {
        this.clearBars();
        this.drawBars();
      }
      return;
    }
    const tenth = total > 0 ? Math.floor((done / total) * 10) : 0;
    if (tenth !== bar.lastTenth) {
      bar.lastTenth = tenth;
      this.out.write(`${this.render(item, bar).trimStart()}\n`);
    }
  }

  itemDone(item: string, summary: string): void {
    this.clearBars();
    this.bars.delete(item);
    this.out.write(`  ${item}: ${summary}\n`);
    this.drawBars();
  }

  info(message: string): void {
    this.line(message);
  }

  warn(message: string): void {
    this.line(`warning: ${message}`);
  }

  retry(notice: RetryNotice): void {
    this.line(formatRetryLine(notice));
  }

  debug(message: string): void {
    if (this.showDebug) this.line(`debug: ${message}`);
  }

  result(result: Record<string, unknown>): void {
    this.clearBars();
    this.bars.clear();
    // Operations on one VM (failover, its drill and cleanup, failback) have no destVm: no "-> undefined".
    const route = result.destVm === undefined ? '' : ` -> ${String(result.destVm)}`;
    if (result.ok === true) this.out.write(`done: ${String(result.operation)} ${String(result.vm)}${route} in ${String(result.seconds)} s, ${formatBytes(Number(result.bytesOnWire))} on the wire (operation ${String(result.id)})\n`);
    else {
      const error = result.error as { code?: string; message?: string } | undefined;
      this.out.write(`kvmctl: ${error?.message ?? 'failed'}\n`);
    }
  }

  close(): void {
    this.clearBars();
  }
}
