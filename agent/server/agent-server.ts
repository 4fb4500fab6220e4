/**
 * Assembles the agent's gRPC server: the four v1 services, grpc.health.v1 and
 * server reflection, on two unix sockets and nothing else — the admin socket
 * (every RPC) and the read-only socket (what role-guard.ts lets through).
 * Owns the shutdown signal every call is tied to, so stopping the server
 * cancels the streams.
 */
import { RateLimits } from '../transfer/rate-limits.js';
import { ParkedPulls } from '../transfer/parked-pulls.js';
import type { InPlaceTransfer } from '../transfer/in-place-transfer.js';
import { HealthImplementation } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from 'pino';
import { loadAgentProto, type AgentProto } from '../../shared/proto.js';
import { KvmcloneError } from '../../shared/errors.js';
import type { LibvirtLivePort, LibvirtPort } from '../libvirt/libvirt-port.js';
import type { ImageRoots } from '../paths/image-roots.js';
import type { RpcDeps } from '../rpc/handlers.js';
import { WideWindowServer } from '../rpc/wide-window-server.js';
import { HashMemory } from '../disk/hash-memory.js';
import { createDiskService } from '../services/disk-service.js';
import { createDomainService } from '../services/domain-service.js';
import { createInfoService } from '../services/info-service.js';
import { createStorageService } from '../services/storage-service.js';
import { createTransferService } from '../services/transfer-service.js';
import { LockRegistry } from '../transfer/lock-registry.js';
import { TicketRegistry } from '../transfer/ticket-registry.js';
import { LiveViews } from '../live/live-views.js';
import type { AuditLog } from '../audit/audit-log.js';
import { defaultRoSocket } from '../config/agent-config.js';
import { startPeerServer } from './peer-server.js';
import { listenRoleSocket, type RoleSocket } from './role-socket.js';
import { roleGuard } from '../rpc/role-guard.js';
import { dirname } from 'node:path';
import { forwardDirOf, prepareForwardDir } from './forward-dir.js';
import { stat } from 'node:fs/promises';
import { RunningOperations } from '../leftovers/running-operations.js';
import { listLeftovers } from '../leftovers/remove-leftovers.js';

/** What the server needs from the process. */
export interface AgentServerDeps {
  log: Logger;
  libvirt: LibvirtPort & LibvirtLivePort;
  roots: ImageRoots;
  /** The admin socket: every RPC. */
  socket: string;
  socketMode: number;
  /** Numeric group id of the admin socket. */
  socketGroup?: number | undefined;
  /** The read-only socket (default agent-ro.sock beside `socket`), its mode (default 0660) and group id. */
  roSocket?: string | undefined;
  roSocketMode?: number | undefined;
  roSocketGroup?: number | undefined;
  /** The ticket-guarded read-only socket other agents pull from. */
  peerSocket: string;
  /** Where backup scratch files go (live views). */
  scratchDir: string;
  /** Longest wait for a guest agent's freeze or thaw. */
  freezeTimeoutMs: number;
  /** Where every mutating call is recorded (and what ReadAudit reads); tests that do not look at it leave it out. */
  audit?: AuditLog | undefined;
}

/** A running agent server. */
export interface RunningAgentServer {
  readonly server: WideWindowServer;
  readonly socket: string;
  readonly roSocket: string;
  /** Stops accepting, cancels running calls after `graceMs`, removes the socket. */
  close(graceMs: number): Promise<void>;
}

/** Names under which health is reported: the whole server ("") and each service. */
export const HEALTH_SERVICES = [
  '',
  'kvmclone.agent.v1.InfoService',
  'kvmclone.agent.v1.StorageService',
  'kvmclone.agent.v1.DomainService',
  'kvmclone.agent.v1.DiskService',
  'kvmclone.agent.v1.TransferService',
] as const;

/** What the services of one server share, and start-up and close need too. */
interface SharedState {
  readonly rpc: RpcDeps;
  readonly operations: RunningOperations;
  readonly hashMemory: HashMemory;
  readonly rateLimits: RateLimits;
  readonly views: LiveViews;
  readonly forwardDir: string;
  readonly locks: LockRegistry;
  readonly tickets: TicketRegistry;
  readonly parkedPulls: ParkedPulls<InPlaceTransfer>;
}

type PeerServer = Awaited<ReturnType<typeof startPeerServer>>;

/** Adds the five v1 services to `server`, with the state they share. */
function addServices(server: WideWindowServer, v1: AgentProto['kvmclone']['agent']['v1'], deps: AgentServerDeps, rpc: RpcDeps, operations: RunningOperations): SharedState {
  const hashMemory = new HashMemory();
  // --bwlimit buckets, one per operation, shared by the admin and peer sockets' reads.
  const rateLimits = new RateLimits();
  const views = new LiveViews();
  const forwardDir = forwardDirOf(dirname(deps.socket));
  const services = { rpc, libvirt: deps.libvirt, roots: deps.roots, hashMemory, rateLimits, runtimeDir: dirname(deps.socket), views, audit: deps.audit, forwardDir };
  server.addService(v1.InfoService.service, createInfoService(services));
  server.addService(v1.StorageService.service, createStorageService(services));
  // One lock registry: HoldLock takes the locks, DefineDomain and StartDomain respect them.
  const locks = new LockRegistry();
  server.addService(v1.DomainService.service, createDomainService({ ...services, locks }));
  server.addService(v1.DiskService.service, createDiskService(services));
  const tickets = new TicketRegistry();
  // In-place pulls cut short by a dropped connection wait here for their retry; dropped at shutdown.
  const parkedPulls = new ParkedPulls<InPlaceTransfer>(deps.log);
  server.addService(
    v1.TransferService.service,
    createTransferService({
      ...services,
      tickets,
      locks,
      runtimeDir: dirname(deps.socket),
      peerSocket: deps.peerSocket,
      scratchDir: deps.scratchDir,
      freezeTimeoutMs: deps.freezeTimeoutMs,
      operations,
      parkedPulls,
    }),
  );
  return { rpc, operations, hashMemory, rateLimits, views, forwardDir, locks, tickets, parkedPulls };
}

/** Says once, with how to remove them, what start-up keeps on purpose (staging files: the same rerun of a clone resumes from them). */
async function reportKeptLeftovers(deps: AgentServerDeps, shared: SharedState): Promise<void> {
  const { forwardDir, operations, views, locks } = shared;
  const kept = await listLeftovers({
    roots: deps.roots,
    forwardDir,
    scratchDir: deps.scratchDir,
    runtimeDir: dirname(deps.socket),
    operations,
    views,
    locks,
    log: deps.log,
  }).catch(() => []);
  if (kept.length > 0) {
    deps.log.info(
      { leftovers: kept.map((l) => ({ kind: l.kind, path: l.path, operationId: l.operationId, ageSeconds: Math.round(l.ageSeconds) })) },
      'leftovers of earlier operations kept at start-up (a rerun of the same clone resumes from its staging files; `kvmctl gc HOST` removes them)',
    );
  }
}

/** Binds the admin and read-only sockets, starts the peer server and prepares the forward directory. */
async function listen(server: WideWindowServer, deps: AgentServerDeps, roSocket: string, shared: SharedState): Promise<{ sockets: RoleSocket[]; peer: PeerServer }> {
  const { rpc, hashMemory, rateLimits, tickets, views } = shared;
  // Nothing half-started: a socket that cannot be served (another agent on it, a bad directory) closes those bound before it.
  const sockets: RoleSocket[] = [];
  try {
    sockets.push(await listenRoleSocket(server, { path: deps.socket, role: 'admin', mode: deps.socketMode, group: deps.socketGroup }, deps.log));
    sockets.push(await listenRoleSocket(server, { path: roSocket, role: 'read-only', mode: deps.roSocketMode ?? 0o660, group: deps.roSocketGroup }, deps.log));
    // The socket group's accounts (an unprivileged SSH login such as kvmclone) forward the peer socket and bind
    // per-operation peer sockets in the forward directory: both get that group. The directory comes last, so an
    // agent that cannot serve one of its sockets leaves nothing behind.
    const socketGid = deps.socketGroup === undefined ? undefined : (await stat(deps.socket)).gid;
    const peer = await startPeerServer({ rpc, roots: deps.roots, hashMemory, rateLimits, tickets, views, socket: deps.peerSocket, gid: socketGid });
    const forward = await prepareForwardDir(dirname(deps.socket), socketGid).catch(async (err: unknown) => {
      await peer.close();
      throw err;
    });
    if (forward.removed > 0) deps.log.info({ dir: forward.dir, removed: forward.removed }, 'dead peer sockets removed from the forward directory');
    await reportKeptLeftovers(deps, shared);
    return { sockets, peer };
  } catch (err) {
    await Promise.all(sockets.map((s) => s.close()));
    server.forceShutdown();
    throw err;
  }
}

/** What close() stops. */
interface Closable {
  readonly server: WideWindowServer;
  readonly health: HealthImplementation;
  readonly sockets: RoleSocket[];
  readonly shutdown: AbortController;
  readonly peer: PeerServer;
  readonly parkedPulls: ParkedPulls<InPlaceTransfer>;
  readonly log: Logger;
}

/** The server's close(): stops accepting, cancels running calls after `graceMs`; the same promise on every call. */
function closer({ server, health, sockets, shutdown, peer, parkedPulls, log }: Closable): (graceMs: number) => Promise<void> {
  let closing: Promise<void> | undefined;
  return (graceMs: number): Promise<void> => {
    closing ??= (async () => {
      for (const s of HEALTH_SERVICES) health.setStatus(s, 'NOT_SERVING');
      // No new connection on either socket from here on; the ones open end with the server.
      await Promise.all(sockets.map((s) => s.close()));
      // Streams see the abort at their next chunk and clean up (staging files are removed).
      shutdown.abort(new KvmcloneError('UNAVAILABLE', 'the agent is shutting down'));
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          log.warn({ graceMs }, 'calls still running after the grace period: forcing shutdown');
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await peer.close();
      await parkedPulls.dropAll('the agent is shutting down');
    })();
    return closing;
  };
}

/** Builds, binds and starts the server. */
export async function startAgentServer(deps: AgentServerDeps): Promise<RunningAgentServer> {
  const { definition, proto } = loadAgentProto();
  const v1 = proto.kvmclone.agent.v1;
  const shutdown = new AbortController();
  // Every handler is built with these: the audit trail reaches every mutating call through them.
  // Every call that holds an operation registers here while it is open: leftovers of those are never removed.
  const operations = new RunningOperations();
  const rpc: RpcDeps = { log: deps.log, shutdown: shutdown.signal, audit: deps.audit, operations };
  const roSocket = deps.roSocket ?? defaultRoSocket(deps.socket);
  // Every call on either socket passes the role guard first: a mutating call on the read-only socket is refused there.
  const server = new WideWindowServer({ interceptors: [roleGuard({ admin: deps.socket, 'read-only': roSocket }, deps.log, deps.audit)] });
  const shared = addServices(server, v1, deps, rpc, operations);
  const health = new HealthImplementation(Object.fromEntries(HEALTH_SERVICES.map((s) => [s, 'SERVING'])));
  health.addToServer(server);
  new ReflectionService(definition).addToServer(server);
  const { sockets, peer } = await listen(server, deps, roSocket, shared);
  const close = closer({ server, health, sockets, shutdown, peer, parkedPulls: shared.parkedPulls, log: deps.log });
  return { server, socket: deps.socket, roSocket, close };
}
