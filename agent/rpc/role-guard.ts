/**
 * The one place that decides whether a call may run on the socket it came
 * through. The admin socket (agent.sock) serves everything; the read-only
 * socket (agent-ro.sock) serves READ_ONLY_METHODS (method-roles.ts) plus
 * health checking and reflection, and refuses every other method with
 * PERMISSION_DENIED naming the method and the socket. A method nobody added
 * to a list is therefore admin-only.
 *
 * It is a grpc-js server interceptor, so it covers every service added to the
 * server (ours, grpc.health.v1, reflection, and any added later) and refuses
 * before the request is read: a refused WriteRanges never has its data
 * accepted. The role comes from the connection (`callerOf(call.getPeer())`,
 * set when the agent accepted it); a connection without one is refused too.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { permissionDenied } from '../../shared/errors.js';
import { recordRefusal } from '../audit/audited-call.js';
import type { AuditLog } from '../audit/audit-log.js';
import { callerOf } from '../server/caller.js';
import { READ_ONLY_METHODS, type SocketRole } from './method-roles.js';
import { toStatus } from './to-status.js';

/** Infrastructure methods that only describe the server: served on every socket. */
export const INFRASTRUCTURE_METHODS: ReadonlySet<string> = new Set([
  '/grpc.health.v1.Health/Check',
  '/grpc.health.v1.Health/Watch',
  '/grpc.health.v1.Health/List',
  '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
  '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
]);

/** True when a connection of `role` may call `path` (e.g. "/kvmclone.agent.v1.DomainService/DefineDomain"). */
export function roleAllows(role: SocketRole, path: string): boolean {
  return role === 'admin' || READ_ONLY_METHODS.has(path) || INFRASTRUCTURE_METHODS.has(path);
}

/** The socket path of each role, for refusal messages. */
export type RoleSockets = Readonly<Record<SocketRole, string>>;

/** "DefineDomain (/kvmclone.agent.v1.DomainService/DefineDomain)". */
function methodName(path: string): string {
  return `${path.slice(path.lastIndexOf('/') + 1)} (${path})`;
}

/**
 * Why a call on `peer` to `path` is refused, or undefined when it may run.
 * Exported for the unit table; the interceptor is the only production caller.
 */
export function refusalOf(peer: string, path: string, sockets: RoleSockets): string | undefined {
  const caller = callerOf(peer);
  if (caller === undefined) return `${methodName(path)} refused: the connection did not come through one of the agent's sockets`;
  if (roleAllows(caller.role, path)) return undefined;
  return `${methodName(path)} changes the host and is not served on the read-only socket ${sockets[caller.role]}: call it on the admin socket ${sockets.admin}`;
}

/**
 * The interceptor given to the agent's server (ServerOptions.interceptors).
 * A refusal is an audit record too (a caller trying what its socket does not
 * allow is what an operator reading the trail wants to see), on disk before
 * the refusal is sent.
 */
export function roleGuard(sockets: RoleSockets, log: Logger, audit?: AuditLog): grpc.ServerInterceptor {
  return (method, call) => {
    const refusal = refusalOf(call.getPeer(), method.path, sockets);
    if (refusal === undefined) return new grpc.ServerInterceptingCall(call);
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          // The handler never starts: no metadata reaches it and no message is read.
          onReceiveMetadata: (metadata) => {
            log.warn({ method: method.path, peer: call.getPeer() }, 'call refused on this socket');
            const status = toStatus(permissionDenied(refusal), log, method.path);
            const refused = { getPath: () => method.path, getPeer: () => call.getPeer(), metadata };
            void recordRefusal(audit, refused, status, log).finally(() => call.sendStatus(status));
          },
        });
      },
    });
  };
}
