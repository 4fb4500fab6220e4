/**
 * The peer socket: what a destination agent reaches through the SSH path the
 * controller brokers. It serves the read side of DiskService only, and every
 * call must carry a live ticket (metadata "kvmclone-ticket") that names the
 * requested path; everything else is PERMISSION_DENIED. The ticket is judged
 * before the path is looked at, the image is opened once and handed to the
 * handler, and a revoked ticket ends the calls running on it
 * (agent/transfer/ticket-guard.ts). Its socket is 0600 — only root can
 * connect (sshd's forward, as a root login) — or, when the agent has a socket
 * group, 0660 with that group: an unprivileged SSH account in it (kvmclone)
 * forwards it too. That group may use the admin socket anyway, so the
 * ticket-guarded reads here give it nothing more.
 */
import type { RateLimits } from '../transfer/rate-limits.js';
import * as grpc from '@grpc/grpc-js';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { permissionDenied } from '../../shared/errors.js';
import type { DiskServiceHandlers } from '../../shared/generated/kvmclone/agent/v1/DiskService.js';
import { loadAgentProto } from '../../shared/proto.js';
import type { ImageLease, ImageLeaser } from '../disk/image-lease.js';
import type { ImageRoots } from '../paths/image-roots.js';
import type { RpcDeps } from '../rpc/handlers.js';
import { toStatus } from '../rpc/to-status.js';
import { WideWindowServer } from '../rpc/wide-window-server.js';
import type { HashMemory } from '../disk/hash-memory.js';
import { createDiskService } from '../services/disk-service.js';
import { TICKET_METADATA } from '../transfer/pull-image.js';
import { admitPeerCall, type Admission } from '../transfer/ticket-guard.js';
import type { TicketRegistry } from '../transfer/ticket-registry.js';
import { prepareSocketPath, removeSocket, secureSocket } from './socket-file.js';
import type { AuditLog } from '../audit/audit-log.js';
import { recordRefusal, type AuditableCall } from '../audit/audited-call.js';
import type { LiveViews } from '../live/live-views.js';

type PeerRequest = { path: string; layer?: unknown };
type GuardedCall = grpc.ServerUnaryCall<PeerRequest, unknown> | grpc.ServerWritableStream<PeerRequest, unknown>;
type GuardDeps = { roots: ImageRoots; tickets: TicketRegistry; log: Logger };

/**
 * Images the guard opened and checked, waiting for their call's handler
 * (keyed by the call's request object, which the handler receives as is).
 */
class HandedImages {
  private readonly waiting = new WeakMap<object, ImageLease>();

  hand(request: object, lease: ImageLease): void {
    this.waiting.set(request, lease);
  }

  /** The peer DiskService's leaser: the handed descriptor, never a fresh resolution of the path. */
  readonly leaser: ImageLeaser = async (request) => {
    const lease = this.waiting.get(request);
    if (lease === undefined) throw new Error('peer call without the image its ticket was checked against');
    this.waiting.delete(request);
    return lease;
  };
}

/**
 * Admits a call (ticket first, then one open: agent/transfer/ticket-guard.ts)
 * and arranges its end: the handed image is released when the call ends, and
 * revoking the ticket stops the handler — file reads through the lease's
 * signal (PERMISSION_DENIED, revoked), anything else (a live view, the guest
 * layer) as a cancelled call.
 */
async function admit(call: GuardedCall, deps: GuardDeps, handed: HandedImages, method: string): Promise<ReturnType<typeof toStatus> | Admission> {
  try {
    const admission = await admitPeerCall(call.metadata.get(TICKET_METADATA)[0], call.request, deps);
    const { lease, grant } = admission;
    if (lease !== undefined) handed.hand(call.request, lease);
    const onRevoke = (): void => {
      if (lease === undefined) call.emit('cancelled', 'revoked');
    };
    grant.signal.addEventListener('abort', onRevoke, { once: true });
    const ended = (): void => {
      grant.signal.removeEventListener('abort', onRevoke);
      void lease?.release();
    };
    call.once('finish', ended);
    call.once('cancelled', ended);
    return admission;
  } catch (err) {
    return toStatus(err, deps.log, method);
  }
}

function isAdmission(x: ReturnType<typeof toStatus> | Admission): x is Admission {
  return 'grant' in x;
}

/**
 * The read-only, ticket-guarded DiskService of the peer socket. Refusals of
 * calls that are not read-only (ReadRanges without a ticket, any write) are
 * audit records too: they are what a probe of the forwarded socket looks like.
 */
function guardedDiskService(inner: DiskServiceHandlers, deps: GuardDeps & { audit?: AuditLog | undefined }, handed: HandedImages): grpc.UntypedServiceImplementation {
  const refuse = async (call: unknown, status: ReturnType<typeof toStatus>): Promise<ReturnType<typeof toStatus>> => {
    await recordRefusal(deps.audit, call as AuditableCall, status, deps.log);
    return status;
  };
  const unary =
    (name: string, handler: grpc.handleUnaryCall<{ path: string }, unknown>): grpc.handleUnaryCall<{ path: string }, unknown> =>
    (call, callback) => {
      void admit(call, deps, handed, name).then(async (result) => {
        if (!isAdmission(result)) return callback(await refuse(call, result));
        handler(call, (err, value) => {
          void result.lease?.release();
          callback(err, value);
        });
      });
    };
  const stream =
    (name: string, handler: grpc.handleServerStreamingCall<{ path: string }, unknown>): grpc.handleServerStreamingCall<{ path: string }, unknown> =>
    (call) => {
      void admit(call, deps, handed, name).then(async (result) => (isAdmission(result) ? handler(call) : call.emit('error', await refuse(call, result))));
    };
  const readOnly: grpc.handleUnaryCall<unknown, unknown> = (call, callback) =>
    void refuse(call, toStatus(permissionDenied('the peer socket is read-only'), deps.log, 'peer')).then((status) => callback(status));
  return {
    StatImage: unary('peer/StatImage', inner.StatImage),
    DigestImage: unary('peer/DigestImage', inner.DigestImage as grpc.handleUnaryCall<{ path: string }, unknown>),
    MapExtents: stream('peer/MapExtents', inner.MapExtents as grpc.handleServerStreamingCall<{ path: string }, unknown>),
    HashBlocks: stream('peer/HashBlocks', inner.HashBlocks as grpc.handleServerStreamingCall<{ path: string }, unknown>),
    ReadRanges: stream('peer/ReadRanges', inner.ReadRanges as grpc.handleServerStreamingCall<{ path: string }, unknown>),
    WriteRanges: ((call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
      void refuse(call, toStatus(permissionDenied('the peer socket is read-only'), deps.log, 'peer')).then((status) => callback(status))) as grpc.handleClientStreamingCall<
      unknown,
      unknown
    >,
    CommitStaging: readOnly,
    AbortStaging: readOnly,
    RebaseStaging: readOnly,
    RemoveImage: readOnly,
  };
}

/** Starts the peer server on `socket` (mode 0600, or 0660 with group `gid`). */
export async function startPeerServer(deps: {
  rpc: RpcDeps;
  roots: ImageRoots;
  hashMemory: HashMemory;
  rateLimits?: RateLimits;
  tickets: TicketRegistry;
  views: LiveViews;
  socket: string;
  /** The admin socket's group, when one is configured. */
  gid?: number | undefined;
}): Promise<{ server: WideWindowServer; close(): Promise<void> }> {
  const v1 = loadAgentProto().proto.kvmclone.agent.v1;
  const server = new WideWindowServer();
  const handed = new HandedImages();
  const inner = createDiskService({
    rpc: deps.rpc,
    roots: deps.roots,
    hashMemory: deps.hashMemory,
    ...(deps.rateLimits && { rateLimits: deps.rateLimits }),
    runtimeDir: dirname(deps.socket),
    views: deps.views,
    images: handed.leaser,
  });
  server.addService(v1.DiskService.service, guardedDiskService(inner, { roots: deps.roots, tickets: deps.tickets, log: deps.rpc.log, audit: deps.rpc.audit }, handed));
  await prepareSocketPath(deps.socket);
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${deps.socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  await secureSocket(deps.socket, deps.gid === undefined ? 0o600 : 0o660, deps.gid);
  return {
    server,
    close: async () => {
      server.forceShutdown();
      await removeSocket(deps.socket);
    },
  };
}
