/**
 * OperationRun.reconnect against a real agent server (fake libvirt) that is
 * restarted under a running operation, as systemd restarts a crashed agent:
 * the session notices its agent no longer answers, the locks the old agent
 * held are lost, and the reconnect brings both back — a new connection, the
 * same locks held again under the same operation id.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { startAgentServer, type RunningAgentServer } from '../../agent/server/agent-server.js';
import { KvmcloneError } from '../../shared/errors.js';
import type { SshConnection, SshEngine } from '../../controller/transport/ssh-engine.js';
import { loadControllerOptions } from '../../controller/config/controller-config.js';
import { JsonReporter } from '../../controller/cli/reporter.js';
import { OperationRun } from '../../controller/operations/operation-run.js';
import { OperationStore } from '../../controller/history/operation-store.js';

const log = pino({ level: 'silent' });
let dir: string;
let images: string;
let server: RunningAgentServer;

/** An engine whose "host" is this machine; counts its connections. */
class LocalEngine implements SshEngine {
  readonly name = 'openssh' as const;
  connects = 0;
  async connect(host: string): Promise<SshConnection> {
    this.connects += 1;
    return {
      host,
      forwardToLocal: async (remote: string) => remote,
      forwardToRemote: async () => undefined,
      cancelRemoteForward: async () => undefined,
      cancelLocalForward: async () => undefined,
      exec: async () => ({ code: 0, stdout: '', stderr: '' }),
      loginUser: () => undefined,
      close: async () => undefined,
    };
  }
}

async function startAgent(): Promise<RunningAgentServer> {
  const libvirt = new FakeLibvirt();
  await libvirt.addDomain(`<domain type='kvm'><name>vm1</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`);
  return startAgentServer({
    log,
    libvirt,
    roots: await ImageRoots.open([images]),
    socket: join(dir, 'run', 'agent.sock'),
    socketMode: 0o600,
    peerSocket: join(dir, 'run', 'peer.sock'),
    scratchDir: images,
    freezeTimeoutMs: 1000,
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-run-reconnect-'));
  images = join(dir, 'images');
  await mkdir(images);
  server = await startAgent();
});

after(async () => {
  await server?.close(1000);
  await rm(dir, { recursive: true, force: true });
});

test('an agent restarted under a run: its session reconnects and the run holds its locks again', async () => {
  const store = new OperationStore(join(dir, 'history.sqlite'));
  const empty = join(dir, 'empty.yaml');
  await writeFile(empty, '');
  const options = await loadControllerOptions({ config: empty, agentSocket: server.socket });
  const engine = new LocalEngine();
  const deps = { engine, options, reporter: new JsonReporter(() => undefined), store, signal: new AbortController().signal };
  const op = new OperationRun(deps, { kind: 'sync', vm: 'vm1', destVm: 'vm1', from: 'h1', to: 'h1' });
  /** Whether another operation would be refused the lock of vm1 (ABORTED). */
  const locked = async (): Promise<boolean> => {
    const probe = new OperationRun({ ...deps, engine: new LocalEngine() }, { kind: 'sync', vm: 'vm1', destVm: 'vm1', from: 'h1', to: 'h1' });
    try {
      return await probe.openHosts([]).then(
        () => false,
        (err: unknown) => err instanceof KvmcloneError && err.code === 'ABORTED',
      );
    } finally {
      await probe.close();
    }
  };
  try {
    const { src } = await op.openHosts([]);
    assert.equal(engine.connects, 1);
    assert.equal(await locked(), true, 'the run holds vm1');

    // The agent goes away (crash, restart) and comes back at the same socket, without the run's lock.
    await server.close(1000);
    assert.equal(await src.answers(2000), false, 'a session whose agent is gone does not answer');
    server = await startAgent();
    assert.equal(await locked(), false, 'the new agent holds no lock for the run');

    await op.reconnect(deps.signal);
    assert.equal(await src.answers(2000), true);
    const { domains } = await src.call(src.clients.domain, src.clients.domain.listDomains, {});
    assert.ok(domains.some((d) => d.name === 'vm1'));
    assert.equal(await locked(), true, 'the lock is held again, by the same operation');
  } finally {
    await op.close();
  }
  assert.equal(await locked(), false, 'and released when the run ends');
  store.close();
});
