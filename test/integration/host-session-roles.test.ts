/**
 * kvmctl's side of the roles, against a real agent server (fake libvirt) and
 * an SSH engine whose forwards are the sockets themselves: a read-only
 * session goes to agent-ro.sock and is refused what changes the host; when the
 * read-only socket cannot be reached (an agent older than it) the session
 * falls back to the admin socket and says so in a debug line; a dry run opens
 * read-only sessions and takes no operation lock; the controller config and
 * the reporters carry the new settings.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { startAgentServer, type RunningAgentServer } from '../../agent/server/agent-server.js';
import { KvmcloneError } from '../../shared/errors.js';
import { HostSession } from '../../controller/transport/host-session.js';
import { loadControllerOptions } from '../../controller/config/controller-config.js';
import { JsonReporter } from '../../controller/cli/reporter.js';
import { TextReporter } from '../../controller/cli/text-reporter.js';
import { OperationRun } from '../../controller/operations/operation-run.js';
import { OperationStore } from '../../controller/history/operation-store.js';
import { LocalSshEngine } from './support/local-ssh-engine.js';
import { isVmLocked } from './support/vm-lock-probe.js';
import { fakeDomainXml, startInProcessAgent } from './support/in-process-agent.js';

const log = pino({ level: 'silent' });
let dir: string;
let server: RunningAgentServer;
let libvirt: FakeLibvirt;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-session-roles-'));
  libvirt = new FakeLibvirt();
  await libvirt.addDomain(fakeDomainXml('vm1'));
  ({ server } = await startInProcessAgent(dir, libvirt));
});

after(async () => {
  await server?.close(1000);
  await rm(dir, { recursive: true, force: true });
});

test('a read-only session uses agent-ro.sock: it lists, and DefineDomain there is PERMISSION_DENIED', async () => {
  const engine = new LocalSshEngine();
  const debug: string[] = [];
  const s = await HostSession.open(engine, 'h1', { agentSocket: server.socket, readOnlySocket: server.roSocket, debug: (m) => debug.push(m), callMs: 10_000 });
  try {
    assert.deepEqual([s.role, s.socket, s.agentSocket], ['read-only', server.roSocket, server.socket]);
    assert.deepEqual(engine.forwarded, [server.roSocket], 'the admin socket was never forwarded');
    assert.deepEqual(debug, []);
    const widened = server.server.widenedSessions;
    const { domains } = await s.call(s.clients.domain, s.clients.domain.listDomains, {});
    assert.ok(domains.some((d) => d.name === 'vm1'));
    assert.ok(widened >= 1, 'connections the agent accepted itself get the 16 MiB HTTP/2 windows too');
    await assert.rejects(s.call(s.clients.domain, s.clients.domain.defineDomain, { xml: '<domain/>', operationId: '' }), (err: unknown) => {
      assert.ok(err instanceof KvmcloneError && err.code === 'PERMISSION_DENIED', String(err));
      assert.match(err.message, /^h1: DefineDomain .* not served on the read-only socket/);
      return true;
    });
  } finally {
    await s.close();
  }
});

test('an agent without a read-only socket: the session falls back to the admin socket with a debug line', async () => {
  const engine = new LocalSshEngine();
  const debug: string[] = [];
  const absent = join(dir, 'run', 'no-such-ro.sock');
  const started = Date.now();
  const s = await HostSession.open(engine, 'h1', { agentSocket: server.socket, readOnlySocket: absent, debug: (m) => debug.push(m), callMs: 10_000 });
  try {
    assert.deepEqual([s.role, s.socket], ['admin', server.socket]);
    assert.deepEqual(engine.forwarded, [absent, server.socket]);
    assert.equal(debug.length, 1);
    assert.match(debug[0] ?? '', new RegExp(`^h1: the agent's read-only socket ${absent} cannot be reached .*using its admin socket ${server.socket}`));
    assert.ok(Date.now() - started < 5000, 'the fallback does not wait for the call deadline');
    const { domains } = await s.call(s.clients.domain, s.clients.domain.listDomains, {});
    assert.ok(domains.some((d) => d.name === 'vm1'));
  } finally {
    await s.close();
  }
});

test('no agent at all: the admin attempt fails too and that error is the one reported', async () => {
  const engine = new LocalSshEngine();
  await assert.rejects(
    HostSession.open(engine, 'h1', { agentSocket: join(dir, 'run', 'none.sock'), readOnlySocket: join(dir, 'run', 'none-ro.sock'), callMs: 10_000 }),
    (err: unknown) => err instanceof KvmcloneError && err.code === 'UNAVAILABLE' && /the agent cannot be reached/.test(err.message),
  );
});

test('a dry run opens read-only sessions and takes no lock; a real run takes both locks on the admin socket', async () => {
  const store = new OperationStore(join(dir, 'history.sqlite'));
  const reporter = new JsonReporter(() => undefined);
  const empty = join(dir, 'empty.yaml');
  await writeFile(empty, '');
  const options = await loadControllerOptions({ config: empty, agentSocket: server.socket, agentRoSocket: server.roSocket });
  try {
    for (const [access, roles] of [
      [{ source: 'read-only', dest: 'read-only' }, ['read-only', 'read-only']],
      [{ source: 'admin', dest: 'read-only' }, ['admin', 'read-only']],
      [undefined, ['admin', 'admin']],
    ] as const) {
      const engine = new LocalSshEngine();
      const op = new OperationRun(
        { engine, options, reporter, store, signal: new AbortController().signal },
        { kind: 'sync', vm: 'vm1', destVm: 'vm1-copy', from: 'h1', to: 'h2' },
      );
      try {
        const { src, dst } = await op.openHosts([], access);
        assert.deepEqual([src.role, dst.role], roles);
        // Another operation can lock a name exactly when this one took no lock on it.
        const isLocked = (vm: string): Promise<boolean> => isVmLocked({ options, reporter, store, signal: new AbortController().signal }, vm);
        assert.deepEqual(
          [await isLocked('vm1'), await isLocked('vm1-copy')],
          roles.map((r) => r === 'admin'),
          `locks with ${JSON.stringify(access)}`,
        );
      } finally {
        await op.close();
      }
    }
  } finally {
    store.close();
  }
});

test('controller config: agent.ro_socket and --agent-ro-socket, default /run/kvmclone/agent-ro.sock; reporters carry debug lines', async () => {
  const empty = join(dir, 'empty.yaml');
  await writeFile(empty, '');
  assert.equal((await loadControllerOptions({ config: empty })).agentRoSocket, '/run/kvmclone/agent-ro.sock');
  const file = join(dir, 'kvmctl.yaml');
  await writeFile(file, 'agent:\n  socket: /run/a/agent.sock\n  ro_socket: /run/a/ro.sock\n');
  const fromFile = await loadControllerOptions({ config: file });
  assert.deepEqual([fromFile.agentSocket, fromFile.agentRoSocket], ['/run/a/agent.sock', '/run/a/ro.sock']);
  assert.equal((await loadControllerOptions({ config: file, agentRoSocket: '/run/b/ro.sock' })).agentRoSocket, '/run/b/ro.sock');
  await assert.rejects(loadControllerOptions({ config: file, agentRoSocket: 'relative.sock' }), /agent\.ro_socket/);

  const lines: string[] = [];
  new JsonReporter((l) => lines.push(l)).debug('fell back');
  assert.deepEqual((JSON.parse(lines[0] ?? '{}') as { type?: string }).type, 'debug');
  const written: string[] = [];
  const out = { write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
  new TextReporter(out, { tty: false, showDebug: false }).debug('hidden');
  new TextReporter(out, { tty: false, showDebug: true }).debug('shown');
  assert.deepEqual(written, ['debug: shown\n']);
});

test('clone --dry-run and sync --dry-run need nothing but the read-only socket (the admin socket unreachable)', async () => {
  const images = join(dir, 'images');
  await mkdir(join(images, 'clones'), { recursive: true });
  await writeFile(join(images, 'src.raw'), Buffer.alloc(1 << 20, 1));
  await writeFile(join(images, 'copy.raw'), Buffer.alloc(1 << 20, 2));
  const disk = (path: string): string =>
    `<devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${path}'/><target dev='vda' bus='virtio'/></disk></devices>`;
  await libvirt.addDomain(fakeDomainXml('dry', disk(join(images, 'src.raw'))));
  await libvirt.addDomain(fakeDomainXml('dry-copy', disk(join(images, 'copy.raw'))));
  const empty = join(dir, 'empty.yaml');
  await writeFile(empty, '');
  const options = await loadControllerOptions({ config: empty, agentSocket: join(dir, 'run', 'admin-unreachable.sock'), agentRoSocket: server.roSocket });
  const store = new OperationStore(join(dir, 'dry-history.sqlite'));
  const { runClone } = await import('../../controller/operations/clone/run-clone.js');
  const { runSync } = await import('../../controller/operations/sync/run-sync.js');
  try {
    const results: Record<string, unknown>[] = [];
    const reporter = new JsonReporter((l) => {
      const e = JSON.parse(l) as Record<string, unknown>;
      if (e.type === 'result') results.push(e);
    });
    const engine = new LocalSshEngine();
    const deps = { engine, options, reporter, store, signal: new AbortController().signal };
    const clone = await runClone(
      { vm: 'dry', from: 'h1', to: 'h2', destVm: 'dry-clone', targetDir: join(images, 'clones'), start: false, dryRun: true },
      { ...deps, confirm: async () => true },
    );
    assert.equal(clone, 0, JSON.stringify(results.at(-1)));
    assert.equal(results.at(-1)?.dryRun, true);
    assert.equal(store.get(String(results.at(-1)?.id))?.operation.state, 'planned', 'a dry run is recorded as a plan, not a clone made');
    const sync = await runSync({ vm: 'dry', from: 'h1', to: 'h2', destVm: 'dry-copy', dryRun: true }, { ...deps, confirmDiskChanges: async () => false });
    assert.equal(sync, 0, JSON.stringify(results.at(-1)));
    assert.equal(results.at(-1)?.changedBlocks, 16, 'all 16 blocks of 64 KiB differ');
    assert.ok(!engine.forwarded.includes(options.agentSocket), 'the admin socket was never asked for');
  } finally {
    store.close();
  }
});

test('an agent that cannot serve one of its sockets leaves none of the others behind', async () => {
  const images = join(dir, 'images');
  const roots = await ImageRoots.open([images]);
  const run2 = join(dir, 'run2');
  for (const taken of [{ roSocket: server.roSocket }, { peerSocket: join(dir, 'run', 'peer.sock') }]) {
    const second = startAgentServer({
      log,
      libvirt,
      roots,
      socket: join(run2, 'agent.sock'),
      socketMode: 0o600,
      roSocket: taken.roSocket ?? join(run2, 'agent-ro.sock'),
      peerSocket: taken.peerSocket ?? join(run2, 'peer.sock'),
      scratchDir: images,
      freezeTimeoutMs: 1000,
    });
    await assert.rejects(second, /another agent is already serving/, JSON.stringify(taken));
    assert.deepEqual(await readdir(run2), [], `nothing left in ${run2} when ${JSON.stringify(taken)} is taken`);
  }
  // The first agent still serves on its read-only socket.
  const s = await HostSession.open(new LocalSshEngine(), 'h1', { agentSocket: server.socket, readOnlySocket: server.roSocket, callMs: 10_000 });
  assert.equal(s.role, 'read-only');
  await s.close();
});
