/**
 * The peer socket: what a destination agent reaches through the SSH path the
 * controller brokers. It serves the read side of DiskService only, and every
 * call must carry a live ticket (metadata "kvmclone-ticket") that names the
 * requested path; everything else is PERMISSION_DENIED. Its socket is 0600 —
 * only root can connect (sshd's forward, as a root login) — or, when the
 * agent has a socket group, 0660 with that group: an unprivileged SSH account
 * in it (kvmclone) forwards it too. That group may use the admin socket
 * anyway, so the ticket-guarded reads here give it nothing more.
 */
import * as grpc from '@grpc/grpc-js';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { permissionDenied } from '../../shared/errors.js';
import type { DiskServiceHandlers } from '../../shared/generated/kvmclone/agent/v1/DiskService.js';
import { loadAgentProto } from '../../shared/proto.js';
import type { ImageRoots } from '../paths/image-roots.js';
import type { RpcDeps } from '../rpc/handlers.js';
import { toStatus } from '../rpc/to-status.js';
import { WideWindowServer } from '../rpc/wide-window-server.js';
import type { HashMemory } from '../disk/hash-memory.js';
import { createDiskService } from '../services/disk-service.js';
import { TICKET_METADATA } from '../transfer/pull-image.js';
import type { TicketRegistry } from '../transfer/ticket-registry.js';
import { prepareSocketPath, removeSocket, secureSocket } from './socket-file.js';
import { isViewPath, parseViewPath } from '../live/view-path.js';
import type { LiveViews } from '../live/live-views.js';

type GuardedCall = { metadata: grpc.Metadata; request: { path: string } };

/** Checks the ticket of a call; resolves with the refusal status, or undefined when allowed. */
async function refusal(call: GuardedCall, deps: { roots: ImageRoots; tickets: TicketRegistry; log: Logger }, method: string): Promise<ReturnType<typeof toStatus> | undefined> {
  try {
    const ticket = call.metadata.get(TICKET_METADATA)[0];
    if (typeof ticket !== 'string') throw permissionDenied('the peer socket needs a ticket');
    // A live view's path names no file: it is checked for form and must be named by the ticket as it is.
    const resolved = isViewPath(call.request.path) ? (parseViewPath(call.request.path), call.request.path) : await deps.roots.existing(call.request.path, 'path');
    if (deps.tickets.allows(ticket, resolved) === undefined) throw permissionDenied(`no live ticket allows reading ${resolved}`);
    return undefined;
  } catch (err) {
    return toStatus(err, deps.log, method);
  }
}

/** The read-only, ticket-guarded DiskService of the peer socket. */
function guardedDiskService(inner: DiskServiceHandlers, deps: { roots: ImageRoots; tickets: TicketRegistry; log: Logger }): grpc.UntypedServiceImplementation {
  const unary =
    (name: string, handler: grpc.handleUnaryCall<{ path: string }, unknown>): grpc.handleUnaryCall<{ path: string }, unknown> =>
    (call, callback) => {
      void refusal(call, deps, name).then((status) => (status ? callback(status) : handler(call, callback)));
    };
  const stream =
    (name: string, handler: grpc.handleServerStreamingCall<{ path: string }, unknown>): grpc.handleServerStreamingCall<{ path: string }, unknown> =>
    (call) => {
      void refusal(call, deps, name).then((status) => (status ? call.emit('error', status) : handler(call)));
    };
  const readOnly: grpc.handleUnaryCall<unknown, unknown> = (_call, callback) =>
    callback(toStatus(permissionDenied('the peer socket is read-only'), deps.log, 'peer'));
  return {
    StatImage: unary('peer/StatImage', inner.StatImage as grpc.handleUnaryCall<{ path: string }, unknown>),
    DigestImage: unary('peer/DigestImage', inner.DigestImage as grpc.handleUnaryCall<{ path: string }, unknown>),
    MapExtents: stream('peer/MapExtents', inner.MapExtents as grpc.handleServerStreamingCall<{ path: string }, unknown>),
    HashBlocks: stream('peer/HashBlocks', inner.HashBlocks as grpc.handleServerStreamingCall<{ path: string }, unknown>),
    ReadRanges: stream('peer/ReadRanges', inner.ReadRanges as grpc.handleServerStreamingCall<{ path: string }, unknown>),
    WriteRanges: ((_call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
      callback(toStatus(permissionDenied('the peer socket is read-only'), deps.log, 'peer'))) as grpc.handleClientStreamingCall<unknown, unknown>,
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
  tickets: TicketRegistry;
  views: LiveViews;
  socket: string;
  /** The admin socket's group, when one is configured. */
  gid?: number | undefined;
}): Promise<{ server: WideWindowServer; close(): Promise<void> }> {
  const v1 = loadAgentProto().proto.kvmclone.agent.v1;
  const server = new WideWindowServer();
  const inner = createDiskService({ rpc: deps.rpc, roots: deps.roots, hashMemory: deps.hashMemory, runtimeDir: dirname(deps.socket), views: deps.views });
  server.addService(v1.DiskService.service, guardedDiskService(inner, { roots: deps.roots, tickets: deps.tickets, log: deps.rpc.log }));
  await prepareSocketPath(deps.socket);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${deps.socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  await secureSocket(deps.socket, deps.gid === undefined ? 0o600 : 0o660, deps.gid);
  return {
    server,
    close: async () => {
      server.forceShutdown();
      await removeSocket(deps.socket);
    },
  };
}
