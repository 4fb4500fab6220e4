/**
 * Who made a call. The agent accepts connections on its sockets itself, asks
 * the kernel for the peer's credentials (SO_PEERCRED) once per connection and
 * hands the connection to grpc-js with those credentials as its
 * `remoteAddress`; handlers read them back with `callerOf(call.getPeer())`.
 * The string form is internal to the agent and never crosses the wire.
 */
import type { SocketRole } from '../rpc/method-roles.js';

/** A caller as the kernel saw it connect, and the socket (role) it came through. */
export interface Caller {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
  readonly role: SocketRole;
}

const FORMAT = /^kvmclone-peer:role=(admin|read-only),uid=(\d+),gid=(\d+),pid=(-?\d+)$/;

/** The `remoteAddress` given to an accepted connection. */
export function callerAddress(caller: Caller): string {
  return `kvmclone-peer:role=${caller.role},uid=${caller.uid},gid=${caller.gid},pid=${caller.pid}`;
}

/** Parses what `call.getPeer()` returns; undefined for a connection the agent did not accept itself. */
export function callerOf(peer: string): Caller | undefined {
  const m = FORMAT.exec(peer);
  if (m === null) return undefined;
  return { role: m[1] as SocketRole, uid: Number(m[2]), gid: Number(m[3]), pid: Number(m[4]) };
}
