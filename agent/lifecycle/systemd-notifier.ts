/**
 * sd_notify(3) for the agent: READY, STATUS, STOPPING and WATCHDOG, through
 * `sd-notify` (libsystemd). Without NOTIFY_SOCKET (not under systemd, or
 * Type=simple) every call is a silent no-op, so the agent runs the same way
 * under systemd, in the testbed and in tests.
 */
import { createRequire } from 'node:module';

interface SdNotifyBinding {
  sendState(state: string): void;
  watchdogInterval(): number;
}

const require = createRequire(import.meta.url);

/** What the agent tells its service manager. */
export interface ServiceNotifier {
  ready(status: string): void;
  status(text: string): void;
  stopping(status: string): void;
  /** Starts WATCHDOG=1 pings at half the interval systemd asked for; returns false when no watchdog is set. */
  startWatchdog(): boolean;
  stopWatchdog(): void;
}

function clean(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

/** The real notifier over libsystemd. */
export function createSystemdNotifier(): ServiceNotifier {
  const sd = require('sd-notify') as SdNotifyBinding;
  let timer: NodeJS.Timeout | undefined;
  return {
    ready: (status) => sd.sendState(`READY=1\nSTATUS=${clean(status)}\nMAINPID=${process.pid}\n`),
    status: (text) => sd.sendState(`STATUS=${clean(text)}\n`),
    stopping: (status) => sd.sendState(`STOPPING=1\nSTATUS=${clean(status)}\n`),
    startWatchdog: () => {
      const intervalMs = sd.watchdogInterval();
      if (!(intervalMs > 0)) return false;
      sd.sendState('WATCHDOG=1\n');
      timer = setInterval(() => sd.sendState('WATCHDOG=1\n'), Math.max(500, Math.floor(intervalMs / 2)));
      timer.unref();
      return true;
    },
    stopWatchdog: () => {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
