/**
 * The agent process from start to exit: options → logger → libvirt port →
 * image roots → server → READY, then SIGTERM/SIGINT → STOPPING → exit 0.
 * main.ts only parses flags and calls this.
 */
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { createLogger } from '../shared/logger.js';
import { missingNodeOptions } from './node-options.js';
import { KVMCLONE_VERSION } from '../shared/version.js';
import type { AgentOptions } from './config/agent-config.js';
import { AgentStateMachine } from './lifecycle/agent-state.js';
import { createSystemdNotifier, type ServiceNotifier } from './lifecycle/systemd-notifier.js';
import { LibvirtAdapter } from './libvirt/libvirt-adapter.js';
import { ImageRoots } from './paths/image-roots.js';
import { startAgentServer, type RunningAgentServer } from './server/agent-server.js';
import { recoverAllJournals } from './transfer/journal-recovery.js';
import { endStaleLiveViews } from './live/stale-jobs.js';
import { AuditLog } from './audit/audit-log.js';
import { startHeapTrimmer } from './memory/heap-trimmer.js';
import { startMemoryGovernor, type GovernorStats } from './memory/memory-governor.js';

/** What runAgent starts, and stops again at the end. */
interface AgentProcess {
  readonly options: AgentOptions;
  readonly log: Logger;
  readonly notifier: ServiceNotifier;
  readonly lifecycle: AgentStateMachine;
  readonly libvirt: LibvirtAdapter;
  readonly stopTrimmer: () => void;
  readonly stopGovernor: () => GovernorStats;
}

/** Warns of a Node.js started without the agent's options. (A missing native addon stops the agent at import: agent/native/fd-calls.ts.) */
function warnAboutRuntime(log: Logger): void {
  const missing = missingNodeOptions();
  if (missing.length > 0)
    log.warn(
      { missing },
      `started without ${missing.join(' ')}: transfers will spend most of their CPU in garbage collection; run kvmclone-agent itself (its #! line has them) or pass them to node`,
    );
}

/** Opens the image roots, settles what a killed agent left behind, and starts the server. */
async function startServing(agent: AgentProcess, audit: AuditLog): Promise<{ server: RunningAgentServer; roots: ImageRoots }> {
  const { options, log, libvirt } = agent;
  const roots = await ImageRoots.open(options.imageRoots);
  // A sync journal a crash left behind is rolled forward (or discarded) before any call can see its image.
  // Journals of the guest layer are applied through qemu-nbd, whose sockets go in the runtime directory.
  const journals = await recoverAllJournals(roots, log, { runtimeDir: dirname(options.socket) });
  if (journals.replayed + journals.discarded + journals.foreign + journals.failed > 0) log.info({ journals }, 'sync journals settled at start-up');
  // Backup jobs and scratch files of live views a killed agent left behind go before anything can use them.
  const stale = await endStaleLiveViews(libvirt, dirname(options.socket), options.scratchDir, log);
  if (stale.jobs + stale.files > 0) log.info({ stale }, 'live-view leftovers cleaned up at start-up');
  const server = await startAgentServer({
    log,
    libvirt,
    roots,
    socket: options.socket,
    socketMode: options.socketMode,
    socketGroup: options.socketGroup,
    roSocket: options.roSocket,
    roSocketMode: options.roSocketMode,
    roSocketGroup: options.roSocketGroup,
    peerSocket: options.peerSocket,
    scratchDir: options.scratchDir,
    freezeTimeoutMs: options.freezeTimeoutMs,
    audit,
  });
  return { server, roots };
}

/** RUNNING: tells the service manager and the log, and reads the host's facts ahead of the first preflight. */
function becomeReady(agent: AgentProcess, roots: ImageRoots, audit: AuditLog): void {
  const { options, log, libvirt, notifier, lifecycle } = agent;
  lifecycle.transition('RUNNING');
  const status = `serving API v1 on ${options.socket} (read-only: ${options.roSocket}); image roots ${roots.roots.join(', ')}`;
  notifier.ready(status);
  const watchdog = notifier.startWatchdog();
  log.info(
    { version: KVMCLONE_VERSION, socket: options.socket, roSocket: options.roSocket, imageRoots: roots.roots, libvirtUri: options.libvirtUri, auditFile: audit.file, watchdog },
    'agent ready',
  );
  // Connects to libvirtd and reads what GetInfo reports (three virsh runs, kept for a minute) now rather
  // than in the first operation's preflight; a libvirtd that is not up yet is asked again then.
  libvirt.hostFacts().catch((err: unknown) => log.debug({ err }, 'host facts not read at start-up'));
}

/** A start that failed: everything started so far is stopped; exit code 1. */
async function failStart(agent: AgentProcess, err: unknown, audit: AuditLog | undefined): Promise<number> {
  const { log, libvirt, lifecycle, stopTrimmer, stopGovernor } = agent;
  lifecycle.transition('FAILED');
  stopTrimmer();
  stopGovernor();
  log.fatal({ err }, 'agent failed to start');
  await libvirt.close().catch(() => undefined);
  await audit?.close().catch(() => undefined);
  log.flush();
  return 1;
}

/** Resolves with the first SIGTERM or SIGINT. */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
}

/** STOPPING on `signal`: closes the server, then the audit trail and libvirt; the exit code. */
async function stopAgent(agent: AgentProcess, server: RunningAgentServer, trail: AuditLog, signal: NodeJS.Signals): Promise<number> {
  const { options, log, libvirt, notifier, lifecycle, stopTrimmer, stopGovernor } = agent;
  lifecycle.transition('STOPPING');
  notifier.stopping(`stopping on ${signal}`);
  log.info({ signal }, 'agent stopping');
  try {
    await server.close(options.shutdownGraceMs);
    stopTrimmer();
    const governed = stopGovernor();
    if (governed.collections > 0) log.info({ collections: governed.collections, collectMs: Math.round(governed.collectMs) }, 'early collections under memory.soft_limit');
    // Calls ended by the shutdown have written their records by now.
    await trail.close();
    notifier.stopWatchdog();
    await libvirt.close();
    lifecycle.transition('STOPPED');
    log.info('agent stopped');
    log.flush();
    return 0;
  } catch (err) {
    lifecycle.transition('FAILED');
    log.error({ err }, 'agent did not stop cleanly');
    log.flush();
    return 1;
  }
}

/** Runs the agent until a stop signal; resolves with the exit code. */
export async function runAgent(options: AgentOptions, notifier: ServiceNotifier = createSystemdNotifier()): Promise<number> {
  const log: Logger = createLogger('kvmclone-agent', options.logLevel);
  warnAboutRuntime(log);
  // Memory transfers free goes back to the kernel every few seconds, not only when glibc's heap top allows.
  const stopTrimmer = startHeapTrimmer(log);
  // Under many transfers at once, dead Buffers are collected before RSS passes memory.soft_limit by much.
  const stopGovernor = startMemoryGovernor(log, options.memorySoftLimit);
  const lifecycle = new AgentStateMachine();
  // Files the agent creates (staging images, sockets before chmod) start private.
  process.umask(0o077);
  const libvirt = new LibvirtAdapter({ uri: options.libvirtUri, log });
  const agent: AgentProcess = { options, log, notifier, lifecycle, libvirt, stopTrimmer, stopGovernor };
  let running;
  let audit: AuditLog | undefined;
  try {
    // No trail, no agent: an agent that could not record what it changes does not start.
    audit = await AuditLog.open({ ...options.audit, log }).catch((err: unknown) => {
      throw new Error(`cannot open the audit trail ${options.audit.file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    const started = await startServing(agent, audit);
    running = started.server;
    becomeReady(agent, started.roots, audit);
  } catch (err) {
    return failStart(agent, err, audit);
  }
  const server = running;
  const trail = audit;
  const signal = await stopSignal();
  return stopAgent(agent, server, trail, signal);
}
