/**
 * Sends replica notifications to what kvmctl.yaml names: `notify.webhook`
 * (a JSON POST) and `notify.command` (run without a shell, the same JSON on
 * its stdin). Delivery never holds up a run — `send` returns at once — and
 * is bounded: up to three attempts within `notify.timeout` (5 s by default)
 * per notification and destination; the command waits for what is still in
 * flight only that long at its end. A hook that fails is a warning, never
 * the run's failure.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { KVMCLONE_VERSION } from '../../shared/version.js';
import type { AlertEvent } from './alert-transitions.js';

/** The JSON body of one notification. */
export interface NotificationBody {
  replica: string;
  event: AlertEvent;
  /** When kvmctl saw the transition (ISO). */
  at: string;
  vm: string;
  from: string;
  to: string;
  destVm: string;
  state: string;
  lagSeconds: number;
  rpoSeconds: number;
  consecutiveFailures: number;
  lastError: string | null;
}

/** `notify:` of kvmctl.yaml, compiled. */
export interface NotifySettings {
  webhook: string | undefined;
  command: string[] | undefined;
  timeoutMs: number;
}

/** Attempts per notification and destination. */
const ATTEMPTS = 3;
/** Pause before the second attempt; doubled before the third. */
const FIRST_PAUSE_MS = 250;

async function postWebhook(url: string, body: string, signal: AbortSignal): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': `kvmctl/${KVMCLONE_VERSION}` },
    body,
    signal,
    redirect: 'error',
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
}

async function runCommand(argv: readonly string[], body: string, signal: AbortSignal): Promise<void> {
  const [file, ...args] = argv as [string, ...string[]];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'ignore', 'pipe'], signal, killSignal: 'SIGKILL' });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-500)));
    child.stdin.on('error', () => undefined);
    child.stdin.end(body);
    child.once('error', reject);
    child.once('close', (code, killedBy) => {
      if (code === 0) resolve();
      else reject(new Error(`${file} exited with ${code ?? killedBy}${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
    });
  });
}

/** Tries `deliver` up to three times until `signal` (the notification's deadline) fires. */
async function withRetries(deliver: (signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void> {
  let last: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    if (attempt > 0) await sleep(FIRST_PAUSE_MS * 2 ** (attempt - 1), undefined, { signal });
    try {
      await deliver(signal);
      return;
    } catch (err) {
      last = err;
      if (signal.aborted) break;
    }
  }
  throw signal.aborted ? new Error(`no answer within the notify timeout${last instanceof Error && !/abort/i.test(last.message) ? ` (${last.message})` : ''}`) : last;
}

/** Notifications of one kvmctl run. */
export class Notifier {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly settings: NotifySettings,
    private readonly warn: (message: string) => void,
  ) {}

  /** True when kvmctl.yaml names a webhook or a command. */
  get configured(): boolean {
    return this.settings.webhook !== undefined || this.settings.command !== undefined;
  }

  /** Starts delivering `body` to every destination; returns at once. */
  send(body: NotificationBody): void {
    const json = JSON.stringify(body);
    const sinks: [string, (signal: AbortSignal) => Promise<void>][] = [];
    const { webhook, command } = this.settings;
    if (webhook !== undefined) sinks.push([`webhook ${new URL(webhook).origin}`, (s) => postWebhook(webhook, json, s)]);
    if (command !== undefined) sinks.push([`command ${command[0]}`, (s) => runCommand(command, json, s)]);
    for (const [what, deliver] of sinks) {
      const delivery: Promise<void> = withRetries(deliver, AbortSignal.timeout(this.settings.timeoutMs))
        .catch((err: unknown) => this.warn(`notification ${body.event} of replica ${body.replica} to ${what} failed: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => this.inFlight.delete(delivery));
      this.inFlight.add(delivery);
    }
  }

  /** Waits for the deliveries still in flight (each ends by its deadline). */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
