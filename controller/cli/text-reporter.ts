/**
 * Human output: on a terminal one live bar per item with bytes, rate and ETA,
 * redrawn at most ten times a second; without one (a file, a pipe, a CI log,
 * TERM=dumb) no bars and no escape codes, only one plain line per item every
 * few seconds (`vdb: 1.2 GiB of 5.0 GiB, 61 MiB/s, ETA 0:58`) — a log must
 * not hold every frame of a bar. Messages go to stderr so stdout stays clean
 * for data. The output has no colours, so NO_COLOR has nothing to turn off.
 */
import { formatPhases, phasesOf } from './phase-text.js';
import { formatBytes, type Reporter } from './reporter.js';
import { formatRetryLine, type RetryNotice } from './retry-notice.js';

interface Bar {
  done: number;
  total: number;
  started: number;
  /** When the last plain line of this item was written (its start until then). */
  lastLine: number;
}

/** The stream the reporter writes to: a `write`, and `isTTY` when it is a terminal. */
export interface TextOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** How a TextReporter renders; every field has a default for the real stderr. */
export interface TextReporterOptions {
  /** Draw live bars with cursor movement; defaults to {@link drawsBars} of the output. */
  tty?: boolean;
  /** Show debug lines; defaults to KVMCTL_DEBUG set to anything but "" or "0". */
  showDebug?: boolean;
  /** Milliseconds clock (tests pass a fake one). */
  now?: () => number;
  /** Without a terminal, the least time between two progress lines of one item. */
  plainIntervalMs?: number;
}

/** Without a terminal, one progress line per item at most this often. */
export const PLAIN_PROGRESS_INTERVAL_MS = 5000;
const TTY_REDRAW_MS = 100;

/**
 * True when `out` can show redrawn bars: a terminal that understands cursor
 * movement (TERM=dumb, as in Emacs shells, does not).
 */
export function drawsBars(out: TextOutput, env: NodeJS.ProcessEnv = process.env): boolean {
  return out.isTTY === true && env.TERM !== 'dumb';
}

/** ", 1.2 GiB of data" after the wire bytes when compression made them fewer than the data they carried. */
export function dataNote(result: Record<string, unknown>): string {
  const data = Number(result.bytesData);
  const wire = Number(result.bytesOnWire);
  return Number.isFinite(data) && data > wire ? ` (${formatBytes(data)} of data, compressed)` : '';
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Renders a Reporter as text on `out` (stderr by default). */
export class TextReporter implements Reporter {
  private readonly bars = new Map<string, Bar>();
  private readonly tty: boolean;
  private readonly showDebug: boolean;
  private readonly now: () => number;
  private readonly plainIntervalMs: number;
  private drawn = 0;
  private lastDraw = 0;

  constructor(
    private readonly out: TextOutput = process.stderr,
    options: TextReporterOptions = {},
  ) {
    this.tty = options.tty ?? drawsBars(out);
    this.showDebug = options.showDebug ?? !['', '0', undefined].includes(process.env.KVMCTL_DEBUG);
    this.now = options.now ?? Date.now;
    this.plainIntervalMs = options.plainIntervalMs ?? PLAIN_PROGRESS_INTERVAL_MS;
  }

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

  /** Bytes per second since the item started, and the seconds left at that rate. */
  private pace(bar: Bar): { rate: number; eta: number } {
    const seconds = (this.now() - bar.started) / 1000;
    const rate = seconds > 0 ? bar.done / seconds : 0;
    return { rate, eta: rate > 0 ? (bar.total - bar.done) / rate : Infinity };
  }

  private renderBar(item: string, bar: Bar): string {
    const width = 24;
    const fraction = bar.total > 0 ? Math.min(1, bar.done / bar.total) : 0;
    const filled = Math.round(fraction * width);
    const { rate, eta } = this.pace(bar);
    return `  ${item.padEnd(28).slice(0, 28)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${formatBytes(bar.done)} / ${formatBytes(bar.total)}  ${formatBytes(rate)}/s  ETA ${duration(eta)}`;
  }

  private renderPlain(item: string, bar: Bar): string {
    const { rate, eta } = this.pace(bar);
    return `  ${item}: ${formatBytes(bar.done)} of ${formatBytes(bar.total)}, ${formatBytes(rate)}/s, ETA ${duration(eta)}`;
  }

  private drawBars(): void {
    if (!this.tty || this.bars.size === 0) return;
    for (const [item, bar] of this.bars) this.out.write(`${this.renderBar(item, bar)}\n`);
    this.drawn = this.bars.size;
    this.lastDraw = this.now();
  }

  phase(name: string, detail?: string): void {
    this.line(`${name}${detail ? `: ${detail}` : ''}`);
  }

  progress(item: string, done: number, total: number): void {
    let bar = this.bars.get(item);
    if (!bar) {
      const started = this.now();
      bar = { done: 0, total, started, lastLine: started };
      this.bars.set(item, bar);
    }
    bar.done = done;
    bar.total = total;
    if (this.tty) {
      if (this.now() - this.lastDraw >= TTY_REDRAW_MS || done >= total) {
        this.clearBars();
        this.drawBars();
      }
      return;
    }
    // The item's done line (itemDone) closes it; a short item says only that.
    if (this.now() - bar.lastLine >= this.plainIntervalMs) {
      bar.lastLine = this.now();
      this.out.write(`${this.renderPlain(item, bar)}\n`);
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
    const route = typeof result.destVm === 'string' ? ` -> ${result.destVm}` : '';
    const phases = phasesOf(result);
    if (result.ok === true) {
      this.out.write(
        result.dryRun === true
          ? `plan only, nothing changed: ${String(result.operation)} ${String(result.vm)}${route} (operation ${String(result.id)})\n`
          : `done: ${String(result.operation)} ${String(result.vm)}${route} in ${String(result.seconds)} s, ${formatBytes(Number(result.bytesOnWire))} on the wire${dataNote(result)} (operation ${String(result.id)})\n`,
      );
      if (phases !== undefined) this.out.write(`  phases: ${formatPhases(phases)}\n`);
    } else {
      const error = result.error as { code?: string; message?: string; detail?: string } | undefined;
      this.out.write(`kvmctl: ${error?.message ?? 'failed'}\n`);
      if (this.showDebug && error?.detail !== undefined) this.out.write(`debug: ${error.detail}\n`);
    }
  }

  close(): void {
    this.clearBars();
  }
}
