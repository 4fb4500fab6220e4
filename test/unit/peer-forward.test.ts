/**
 * Where kvmctl binds a transfer's peer socket on the destination host, and
 * who removes it: the agent's forward directory (and RemovePeerSocket) when
 * the agent has "transfer.forward-dir", else beside the agent's socket with
 * `rm` over SSH as before. Also the account line of `hosts check`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exposePeer, peerSocketPath } from '../../controller/operations/peer-forward.js';
import { describeAccount } from '../../controller/operations/account-check.js';
import type { HostSession } from '../../controller/transport/host-session.js';
import type { LocalForwardOptions, RemoteForwardOptions } from '../../controller/transport/ssh-engine.js';

/** A session with just what peer-forward.ts touches, recording what it is asked (into `log`, shared by both hosts). */
function session(capabilities: string[], forwardDir: string, onThisMachine = false, log: string[] = []): { s: HostSession; log: string[] } {
  const s = {
    agentSocket: '/run/kvmclone/agent.sock',
    info: { capabilities, forwardDir },
    connection: {
      onThisMachine,
      forwardToLocal: async (remote: string, o: LocalForwardOptions = {}) => {
        const local = o.at ?? (onThisMachine ? remote : '/tmp/x/fwd-1.sock');
        log.push(`local ${local} -> ${remote}`);
        return local;
      },
      cancelLocalForward: async (path: string) => void log.push(`cancel local ${path}`),
      forwardToRemote: async (path: string, local: string, o: RemoteForwardOptions = {}) => void log.push(`forward ${path} -> ${local} hostRemoves=${o.hostRemoves === true}`),
      cancelRemoteForward: async (path: string) => void log.push(`cancel ${path}`),
    },
    clients: { transfer: { removePeerSocket: 'removePeerSocket' } },
    call: async (_client: unknown, method: unknown, request: { path: string }) => {
      log.push(`${String(method)} ${request.path}`);
      return { removed: true };
    },
  };
  return { s: s as unknown as HostSession, log };
}

const OP = '6f0c3a5e-1d2b-4c3d-9e8f-0a1b2c3d4e5f';

test('an agent with a forward directory: the socket goes there, and the agent removes it after the cancel (no rm)', async () => {
  const { s, log } = session(['transfer.forward-dir'], '/run/kvmclone/forward');
  const { s: src } = session([], '', false, log);
  assert.deepEqual(peerSocketPath(s, OP), { path: `/run/kvmclone/forward/peer-${OP}.sock`, agentRemoves: true });
  const exposed = await exposePeer(src, '/run/kvmclone/peer.sock', s, OP, new AbortController().signal);
  assert.equal(exposed.remotePeer, `/run/kvmclone/forward/peer-${OP}.sock`);
  await exposed.close();
  assert.deepEqual(log, [
    'local /tmp/x/fwd-1.sock -> /run/kvmclone/peer.sock',
    `forward /run/kvmclone/forward/peer-${OP}.sock -> /tmp/x/fwd-1.sock hostRemoves=true`,
    `cancel /run/kvmclone/forward/peer-${OP}.sock`,
    `removePeerSocket /run/kvmclone/forward/peer-${OP}.sock`,
  ]);
});

test('an older agent: beside its socket, as before; the transport removes it, no RPC it lacks', async () => {
  const { s, log } = session(['transfer.pull'], '');
  const { s: src } = session([], '', false, log);
  assert.deepEqual(peerSocketPath(s, OP), { path: `/run/kvmclone/peer-${OP}.sock`, agentRemoves: false });
  const exposed = await exposePeer(src, '/run/kvmclone/peer.sock', s, OP, new AbortController().signal);
  await exposed.close();
  assert.deepEqual(log, [
    'local /tmp/x/fwd-1.sock -> /run/kvmclone/peer.sock',
    `forward /run/kvmclone/peer-${OP}.sock -> /tmp/x/fwd-1.sock hostRemoves=false`,
    `cancel /run/kvmclone/peer-${OP}.sock`,
  ]);
});

test('kvmctl on the source host: its peer socket as it is, one -R forward to the destination', async () => {
  const { s: dst, log } = session(['transfer.forward-dir'], '/run/kvmclone/forward');
  const { s: src } = session([], '', true, log);
  const exposed = await exposePeer(src, '/run/kvmclone/peer.sock', dst, OP, new AbortController().signal);
  await exposed.close();
  assert.deepEqual(log, [
    'local /run/kvmclone/peer.sock -> /run/kvmclone/peer.sock',
    `forward /run/kvmclone/forward/peer-${OP}.sock -> /run/kvmclone/peer.sock hostRemoves=true`,
    `cancel /run/kvmclone/forward/peer-${OP}.sock`,
    `removePeerSocket /run/kvmclone/forward/peer-${OP}.sock`,
  ]);
});

test('kvmctl on the destination host: the source forward is bound right in its forward directory, no relay', async () => {
  const { s: dst, log } = session(['transfer.forward-dir'], '/run/kvmclone/forward', true);
  const { s: src } = session([], '', false, log);
  const exposed = await exposePeer(src, '/run/kvmclone/peer.sock', dst, OP, new AbortController().signal);
  assert.equal(exposed.remotePeer, `/run/kvmclone/forward/peer-${OP}.sock`);
  await exposed.close();
  assert.deepEqual(log, [
    `local /run/kvmclone/forward/peer-${OP}.sock -> /run/kvmclone/peer.sock`,
    `cancel local /run/kvmclone/forward/peer-${OP}.sock`,
    `removePeerSocket /run/kvmclone/forward/peer-${OP}.sock`,
  ]);
});

test('hosts check says which account, whether it is root, its socket role and whether it can bind', () => {
  assert.equal(
    describeAccount({ user: 'kvmclone', uid: 998, gid: 998, groups: [998], root: false, role: 'admin', forwardDir: '/run/kvmclone/forward', forwardBind: 'ok' }),
    'ssh account kvmclone (uid 998, not root); agent socket: admin access; forward dir /run/kvmclone/forward: can bind',
  );
  assert.equal(
    describeAccount({ user: 'kvmclone', role: 'reached /run/kvmclone/agent.sock', forwardDir: '/run/kvmclone', forwardBind: 'hosta: cannot listen at …' }),
    'ssh account kvmclone (uid not reported by this agent); agent socket: reached /run/kvmclone/agent.sock; forward dir /run/kvmclone: cannot bind: hosta: cannot listen at …',
  );
});
