/**
 * How an operation tells the person (or program) running kvmctl what it is
 * doing. Operations call a Reporter; the command picks the rendering: bars
 * with rate and ETA on a TTY, plain lines otherwise, NDJSON with --json.
 */

import { retryEvent, type RetryNotice } from './retry-notice.js';

/** Something worth saying, with an optional structured payload for --json. */
export interface Reporter {
  /** A pipeline phase begins (PREFLIGHT, PLAN, TRANSFER, ...). */
  phase(name: string, detail?: string): void;
  /** Bytes done of one item (a disk); called often, rendered throttled. */
  progress(item: string, done: number, total: number): void;
  /** An item finished. */
  itemDone(item: string, summary: string): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string): void;
  /** A reconnect within the run is scheduled (controller/operations/retry). */
  retry(notice: RetryNotice): void;
  /**
   * What only someone chasing a problem needs (e.g. which agent socket was
   * used): a `debug` event with --json, a line on stderr when KVMCTL_DEBUG is
   * set, nothing otherwise.
   */
  debug(message: string): void;
  /** The final line: the result object (README, --json). */
  result(result: Record<string, unknown>): void;
  /** Stops redrawing. */
  close(): void;
}

/** Human-readable byte count. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

/** NDJSON events on stdout; the last line is the result object. */
export class JsonReporter implements Reporter {
  private readonly lastPercent = new Map<string, number>();

  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {}

  private emit(event: Record<string, unknown>): void {
    this.write(JSON.stringify({ ...event, at: new Date().toISOString() }));
  }

  phase(name: string, detail?: string): void {
    this.emit({ type: 'phase', phase: name, ...(detail !== undefined && { detail }) });
  }

  progress(item: string, done: number, total: number): void {
    const percent = total > 0 ? Math.floor((done / total) * 100) : 0;
    if (this.lastPercent.get(item) === percent && done < total) return;
    this.lastPercent.set(item, percent);
    this.emit({ type: 'progress', item, bytesDone: done, bytesTotal: total });
  }

  itemDone(item: string, summary: string): void {
    this.emit({ type: 'item', item, summary });
  }

  info(message: string, data?: Record<string, unknown>): void {
    this.emit({ type: 'info', message, ...(data !== undefined && { data }) });
  }

  warn(message: string): void {
    this.emit({ type: 'warning', message });
  }

  retry(notice: RetryNotice): void {
    this.emit(retryEvent(notice));
  }

  debug(message: string): void {
    this.emit({ type: 'debug', message });
  }

  result(result: Record<string, unknown>): void {
    this.write(JSON.stringify({ type: 'result', ...result }));
  }

  close(): void {}
}
