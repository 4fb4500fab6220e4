/**
 * Where the controller re-exposes a source agent's peer socket on the
 * destination host (`-R`), and how that socket goes away again.
 *
 * An agent with the "transfer.forward-dir" capability names a forward
 * directory its socket group may write (GetInfo.forward_dir): the SSH login
 * need not be root, and the agent removes the socket when asked
 * (RemovePeerSocket) — the login account may run no commands. An older agent
 * accepts peer sockets only beside its own socket, in a directory only root
 * can write, and the transport removes them with `rm` as before.
 */
import { dirname } from 'node:path';
import type { HostSession } from '../transport/host-session.js';

/** The directory peer sockets are bound in on `dst`, and whether its agent removes them. */
export function peerSocketDir(dst: HostSession): { dir: string; agentRemoves: boolean } {
  if (dst.info.capabilities.includes('transfer.forward-dir') && dst.info.forwardDir !== '') return { dir: dst.info.forwardDir, agentRemoves: true };
  return { dir: dirname(dst.agentSocket), agentRemoves: false };
}

/** The per-operation peer socket path on `dst` and who removes it. */
export function peerSocketPath(dst: HostSession, operationId: string): { path: string; agentRemoves: boolean } {
  const { dir, agentRemoves } = peerSocketDir(dst);
  return { path: `${dir}/peer-${operationId}.sock`, agentRemoves };
}

/**
 * The id in a peer socket's name: the operation's, and for a reconnecting
 * run's later attempts `<operation>-r<attempt>` — a dropped connection
 * leaves its socket bound on the host (sshd never removes one), and a bind
 * to an existing path fails.
 */
export function peerSocketId(operationId: string, attempt: number): string {
  return attempt === 0 ? operationId : `${operationId}-r${attempt}`;
}

/**
 * Removes the peer socket an earlier attempt of this run bound and could
 * not remove (its connection was gone), through the agent that removes
 * them; best effort — the agent also sweeps dead ones at start-up.
 */
export async function removeStalePeer(dst: HostSession, operationId: string, attempt: number, signal: AbortSignal): Promise<void> {
  const { path, agentRemoves } = peerSocketPath(dst, peerSocketId(operationId, attempt));
  if (!agentRemoves) return;
  await dst.call(dst.clients.transfer, dst.clients.transfer.removePeerSocket, { path }, signal).catch(() => undefined);
}

/** A bound per-operation peer socket on the destination host. */
export interface ExposedPeer {
  /** The socket path on the destination host. */
  readonly remotePeer: string;
  /** Cancels the forward and removes the socket file; rejects if either fails. */
  close(): Promise<void>;
}

/**
 * Binds the per-operation peer socket `peer-<id>.sock` on `dst` so that it
 * reaches `srcPeerSocket` (the source agent's peer socket) by the shortest
 * way there is:
 * - both hosts remote: forwarded here from `src` (-L), and on to `dst` (-R),
 *   the bytes relayed through kvmctl's machine — two SSH hops;
 * - kvmctl on the source host: the source socket as it is, forwarded to
 *   `dst` (-R) — one hop;
 * - kvmctl on the destination host: `src`'s forward bound right at the
 *   peer socket path in the destination agent's forward directory — one hop.
 */
export async function exposePeer(src: HostSession, srcPeerSocket: string, dst: HostSession, id: string, signal: AbortSignal): Promise<ExposedPeer> {
  const { path, agentRemoves } = peerSocketPath(dst, id);
  /** Cancels the forward, then has the agent remove the socket file (when it does). */
  const exposed = (cancel: () => Promise<void>): ExposedPeer => ({
    remotePeer: path,
    close: async () => {
      try {
        await cancel();
      } finally {
        if (agentRemoves) await dst.call(dst.clients.transfer, dst.clients.transfer.removePeerSocket, { path });
      }
    },
  });
  if (dst.connection.onThisMachine === true && src.connection.onThisMachine !== true) {
    await src.connection.forwardToLocal(srcPeerSocket, { signal, at: path });
    return exposed(() => src.connection.cancelLocalForward(path));
  }
  const localPeer = await src.connection.forwardToLocal(srcPeerSocket, { signal });
  await dst.connection.forwardToRemote(path, localPeer, { signal, hostRemoves: agentRemoves });
  return exposed(() => dst.connection.cancelRemoteForward(path));
}
