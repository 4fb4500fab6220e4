/**
 * What `kvmctl hosts check` says about the SSH account it uses on a host:
 * which account, whether the agent sees it as root, which socket role it
 * reached, and whether it can bind the per-operation peer sockets a transfer
 * needs. Everything is observed without running a command on the host (the
 * dedicated account may run none): the login name from the SSH engine, the
 * caller's uid and groups from GetInfo (an agent that records SO_PEERCRED),
 * and a real `-R` bind of a throwaway socket, cancelled and removed at once.
 * The removal is the one change it makes on the host: it goes through the
 * agent's admin socket (RemovePeerSocket), reached on the same SSH
 * connection even when the check itself reads over the read-only socket.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvmcloneError } from '../../shared/errors.js';
import { fromStatus } from '../../shared/from-status.js';
import type { HostSession } from '../transport/host-session.js';
import { SshError } from '../transport/ssh-engine.js';
import { createAgentClients, unaryCall } from '../../shared/agent-clients.js';
import { peerSocketDir, peerSocketPath } from './peer-forward.js';

/** The account report of one host (the `account` object of `hosts check --json`). */
export interface AccountReport {
  /** Login name, when the engine knows it. */
  user?: string;
  /** As the agent saw the connection (absent when the agent does not report callers). */
  uid?: number;
  gid?: number;
  groups?: number[];
  /** true/false when the uid is known. */
  root?: boolean;
  /** "admin" or "read-only" as the agent reports it; else the socket reached. */
  role: string;
  /** Where peer sockets are bound on this host. */
  forwardDir: string;
  /** Whether a -R bind there works: "ok" or why not. */
  forwardBind: string;
  /** Set when the probe socket could not be removed (the agent sweeps it at its next start): why. */
  probeLeft?: string;
}

/**
 * Removes the probe socket through the agent: on the session itself when it
 * is the admin one, else over a forward of the admin socket on the same SSH
 * connection. Resolves with why it could not, or undefined once removed.
 */
async function removeProbe(session: HostSession, path: string, signal: AbortSignal): Promise<string | undefined> {
  try {
    if (session.role === 'admin') {
      await session.call(session.clients.transfer, session.clients.transfer.removePeerSocket, { path }, signal);
      return undefined;
    }
    const local = await session.connection.forwardToLocal(session.agentSocket, { signal });
    const admin = createAgentClients(`unix:${local}`);
    try {
      await unaryCall(admin.transfer, admin.transfer.removePeerSocket, { path }, { deadlineMs: 10_000, signal });
      return undefined;
    } finally {
      admin.close();
    }
  } catch (err) {
    // A status from the admin socket arrives as a grpc-js error: named like every other agent error.
    const reason = err instanceof SshError || err instanceof KvmcloneError ? err : fromStatus(err, session.host);
    return `${path} stays until the agent's next start (removing it needs the admin socket: ${reason.message})`;
  }
}

async function listenOn(path: string): Promise<Server> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return server;
}

/** Tries a -R forward of a throwaway peer socket on `session`'s host: "ok" or the reason it failed, and what was left. */
async function tryBind(session: HostSession, signal: AbortSignal): Promise<{ forwardBind: string; probeLeft?: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmctl-bind-'));
  const local = join(dir, 's.sock');
  const server = await listenOn(local);
  try {
    const { path, agentRemoves } = peerSocketPath(session, `check-${randomBytes(6).toString('hex')}`);
    await session.connection.forwardToRemote(path, local, { signal, hostRemoves: agentRemoves });
    await session.connection.cancelRemoteForward(path);
    const left = agentRemoves ? await removeProbe(session, path, signal) : undefined;
    return { forwardBind: 'ok', ...(left !== undefined && { probeLeft: left }) };
  } catch (err) {
    if (err instanceof SshError || err instanceof KvmcloneError) return { forwardBind: err.message };
    throw err;
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Builds the account report of an open session. */
export async function checkAccount(session: HostSession, signal: AbortSignal): Promise<AccountReport> {
  const caller = session.info.caller ?? undefined;
  const user = session.connection.loginUser();
  const forwardDir = peerSocketDir(session).dir;
  return {
    ...(user !== undefined && { user }),
    ...(caller && { uid: caller.uid, gid: caller.gid, groups: caller.groups, root: caller.uid === 0 }),
    role: caller?.role || `reached ${session.agentSocket}`,
    forwardDir,
    ...(await tryBind(session, signal)),
  };
}

/** One line for humans, e.g. "ssh account kvmclone (uid 998, not root); agent socket: admin access; forward dir /run/kvmclone/forward: can bind". */
export function describeAccount(a: AccountReport): string {
  const who = a.uid === undefined ? 'uid not reported by this agent' : `uid ${a.uid}, ${a.root ? 'root' : 'not root'}`;
  const role = a.role === 'admin' || a.role === 'read-only' ? `${a.role} access` : a.role;
  const bind = a.forwardBind === 'ok' ? `can bind${a.probeLeft !== undefined ? ` (${a.probeLeft})` : ''}` : `cannot bind: ${a.forwardBind}`;
  return `ssh account ${a.user ?? '(unknown)'} (${who}); agent socket: ${role}; forward dir ${a.forwardDir}: ${bind}`;
}
