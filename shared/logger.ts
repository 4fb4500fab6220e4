/**
 * pino, configured once: JSON lines on stdout (journald picks them up under
 * systemd), ISO timestamps, and a `component` binding so agent and controller
 * logs can be told apart when they are collected together.
 */
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/** Log levels accepted in config files and flags. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Builds the process logger. `destination` defaults to stdout (fd 1). */
export function createLogger(component: string, level: LevelWithSilent = 'info', destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { component, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 1, sync: true }),
  );
}
