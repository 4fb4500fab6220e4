/**
 * What every kvmctl command needs, set up and torn down in one place: the
 * compiled options, the SSH engine, the history store, the reporter, a
 * private runtime directory for local sockets, and an AbortSignal that
 * Ctrl-C trips (a second Ctrl-C exits at once). Errors before the operation
 * starts become exit codes here (config → 2).
 */
import type { Command } from 'commander';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../shared/config/config-file.js';
import { isAbortError, KvmcloneError } from '../../shared/errors.js';
import { loadControllerOptions, type ControllerOptions, type GlobalFlags } from '../config/controller-config.js';
import { OperationStore } from '../history/operation-store.js';
import type { OperationDeps } from '../operations/operation-run.js';
import type { SshEngine } from '../transport/ssh-engine.js';
import { HostSession } from '../transport/host-session.js';
import type { AgentCapability } from '../../shared/capabilities.js';
import { selectEngine } from '../transport/select-engine.js';
import { normalizeSshError } from '../transport/ssh-error-code.js';
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_REFUSED, EXIT_USAGE } from './exit-codes.js';
import { JsonReporter, type Reporter } from './reporter.js';
import { TextReporter } from './text-reporter.js';

/** Global flags as commander parses them. */
export interface GlobalCliFlags extends GlobalFlags {
  json?: boolean;
  yes?: boolean;
  /** Debug lines, and the lower layers' own words under an error (as KVMCTL_DEBUG=1). */
  verbose?: boolean;
}

/** Everything a command's action gets. */
export interface CommandContext {
  options: ControllerOptions;
  engine: SshEngine;
  reporter: Reporter;
  json: boolean;
  signal: AbortSignal;
  /** Opened on first use. */
  store(): OperationStore;
}

/**
 * Runs a command body with a context; returns the exit code. The body returns
 * its own code; thrown errors are reported (as a result line with --json).
 */
export async function withCommandContext(flags: GlobalCliFlags, body: (ctx: CommandContext) => Promise<number>): Promise<number> {
  const json = flags.json === true;
  const reporter: Reporter = json ? new JsonReporter() : new TextReporter(process.stderr, flags.verbose === true ? { showDebug: true } : {});
  const fail = (code: string, message: string, exit: number, detail?: string): number => {
    reporter.result({ ok: false, error: { code, message, ...(detail !== undefined && { detail }) } });
    return exit;
  };
  let options: ControllerOptions;
  try {
    options = await loadControllerOptions(flags);
  } catch (err) {
    if (err instanceof ConfigError) return fail('INVALID_ARGUMENT', err.message, EXIT_USAGE);
    throw err;
  }
  const runtimeDir = await mkdtemp(join(process.env.XDG_RUNTIME_DIR ?? tmpdir(), 'kvmctl-'));
  const aborter = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts += 1;
    if (interrupts > 1) process.exit(EXIT_INTERRUPTED);
    reporter.warn('interrupted: reverting (press Ctrl-C again to exit at once)');
    aborter.abort(new DOMException('interrupted', 'AbortError'));
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  let store: OperationStore | undefined;
  try {
    const engine = await selectEngine(options, runtimeDir);
    return await body({
      options,
      engine,
      reporter,
      json,
      signal: aborter.signal,
      store: () => (store ??= new OperationStore(options.databasePath)),
    });
  } catch (thrown) {
    // SSH failures keep their meaning: unknown/changed host keys are refusals, a bad ssh config is usage.
    // Whatever a Ctrl-C cut short (an SSH connect, a call) is an interruption, exit 130.
    const err = isAbortError(thrown) || aborter.signal.aborted ? new KvmcloneError('CANCELLED', 'interrupted', { cause: thrown }) : normalizeSshError(thrown);
    if (err instanceof KvmcloneError) {
      const exit =
        err.code === 'CANCELLED'
          ? EXIT_INTERRUPTED
          : err.code === 'INVALID_ARGUMENT'
            ? EXIT_USAGE
            : ['FAILED_PRECONDITION', 'NOT_FOUND'].includes(err.code)
              ? EXIT_REFUSED
              : EXIT_FAILED;
      return fail(err.code, err.message, exit, err.detail);
    }
    return fail('INTERNAL', err instanceof Error ? err.message : String(err), EXIT_FAILED);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    reporter.close();
    store?.close();
    await rm(runtimeDir, { recursive: true, force: true });
  }
}

/**
 * A verb's action, run: the global flags read from `command` (merged with the
 * verb's own, a global flag winning a clash as commander has it), `body` run
 * in a command context, and its exit code handed to `run`. The plumbing every
 * verb's action shares, in one place.
 */
export function runInContext<F extends object = object>(
  run: (code: Promise<number>) => void,
  command: Command,
  body: (ctx: CommandContext, global: GlobalCliFlags & F) => Promise<number>,
): void {
  const global = command.optsWithGlobals<GlobalCliFlags & F>();
  run(withCommandContext(global, (ctx) => body(ctx, global)));
}

/** What an operation needs from its command's context; `options` in place of the context's where a flag changes them. */
export function operationDeps(ctx: CommandContext, options: ControllerOptions = ctx.options): OperationDeps {
  return { engine: ctx.engine, options, reporter: ctx.reporter, store: ctx.store(), signal: ctx.signal };
}

/**
 * A session to `host`'s agent for a command that only reads: the read-only
 * socket, falling back as HostSession does (its debug lines through the
 * command's reporter), with the command's deadline and signal.
 */
export function openReadOnly(ctx: CommandContext, host: string, needs?: readonly AgentCapability[]): Promise<HostSession> {
  return HostSession.open(ctx.engine, host, {
    agentSocket: ctx.options.agentSocket,
    readOnlySocket: ctx.options.agentRoSocket,
    debug: (m) => ctx.reporter.debug(m),
    callMs: ctx.options.timeouts.callMs,
    signal: ctx.signal,
    ...(needs !== undefined && { needs }),
  });
}
