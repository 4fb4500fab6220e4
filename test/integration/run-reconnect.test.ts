/**
 * OperationRun.reconnect against a real agent server (fake libvirt) that is
 * restarted under a running operation, as systemd restarts a crashed agent:
 * the session notices its agent no longer answers, the locks the old agent
 * held are lost, and the reconnect brings both back — a new connection, the
 * same locks held again under the same operation id.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import type { RunningAgentServer } from '../../agent/server/agent-server.js';
import { KvmcloneError } from '../../shared/errors.js';
import { loadControllerOptions } from '../../controller/config/controller-config.js';
import { JsonReporter } from '../../controller/cli/reporter.js';
import { OperationRun } from '../../controller/operations/operation-run.js';
import { OperationStore } from '../../controller/history/operation-store.js';
import { LocalSshEngine } from './support/local-ssh-engine.js';
import { isVmLocked } from './support/vm-lock-probe.js';
import { fakeDomainXml, startInProcessAgent } from './support/in-process-agent.js';

let dir: string;
let server: RunningAgentServer;

async function startAgent(): Promise<RunningAgentServer> {
  const libvirt = new FakeLibvirt();
  await libvirt.addDomain(fakeDomainXml('vm1'));
  return (await startInProcessAgent(dir, libvirt)).server;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-run-reconnect-'));
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
  const engine = new LocalSshEngine();
  const deps = { engine, options, reporter: new JsonReporter(() => undefined), store, signal: new AbortController().signal };
  const op = new OperationRun(deps, { kind: 'sync', vm: 'vm1', destVm: 'vm1', from: 'h1', to: 'h1' });
  /** Whether another operation would be refused the lock of vm1 (ABORTED). */
  const locked = (): Promise<boolean> => isVmLocked(deps, 'vm1');
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

/** An operation on h1 with `yaml` as its kvmctl.yaml, its result lines collected. */
async function failingRun(yaml: string): Promise<{ op: OperationRun; lines: Record<string, unknown>[]; store: OperationStore }> {
  const config = join(dir, `retry-${Date.now()}.yaml`);
  await writeFile(config, yaml);
  const options = await loadControllerOptions({ config, agentSocket: server.socket });
  const store = new OperationStore(join(dir, 'history.sqlite'));
  const lines: Record<string, unknown>[] = [];
  const reporter = new JsonReporter((line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  const op = new OperationRun(
    { engine: new LocalSshEngine(), options, reporter, store, signal: new AbortController().signal },
    { kind: 'sync', vm: 'vm1', destVm: 'vm1', from: 'h1', to: 'h1' },
  );
  return { op, lines, store };
}

test('a revert step that meets a restarting agent is done once the agent is back', async () => {
  const { op, lines, store } = await failingRun('retry: { attempts: 4, base_delay: 200ms, max_delay: 1s }\n');
  try {
    const { src } = await op.openHosts([]);
    let undone = 0;
    op.revert.push('list vm1', async () => {
      await src.call(src.clients.domain, src.clients.domain.listDomains, {});
      undone += 1;
    });
    await server.close(1000);
    const restart = new Promise<void>((resolve) => setTimeout(resolve, 300)).then(async () => {
      server = await startAgent();
    });
    const code = await op.fail(new KvmcloneError('INTERNAL', 'the step after failed'));
    await restart;
    assert.equal(code, 1);
    assert.equal(undone, 1, 'the undo ran once the agent answered');
    assert.ok(
      lines.some((l) => l.type === 'retry' && l.phase === 'REVERT'),
      'the retry was reported',
    );
    assert.ok(!lines.some((l) => l.type === 'warning'), `nothing was left undone: ${JSON.stringify(lines)}`);
  } finally {
    await op.close();
    store.close();
  }
});

test('a revert step whose agent never comes back: its own failure, saying what is left, is the warning', async () => {
  const { op, lines, store } = await failingRun('retry: { attempts: 1, base_delay: 50ms, max_delay: 100ms }\n');
  const { src } = await op.openHosts([]);
  try {
    op.revert.push('remove the staging file', async () => {
      await src.call(src.clients.domain, src.clients.domain.listDomains, {}).catch(() => {
        throw new KvmcloneError('UNAVAILABLE', 'staging file /x/.a.kvmclone-staging is left: its agent did not answer');
      });
    });
    await server.close(1000);
    assert.equal(await op.fail(new KvmcloneError('INTERNAL', 'the step after failed')), 1);
    const warnings = lines.filter((l) => l.type === 'warning').map((l) => String(l.message));
    assert.equal(warnings.length, 1, JSON.stringify(lines));
    assert.match(warnings[0] ?? '', /could not remove the staging file: staging file \/x\/\.a\.kvmclone-staging is left: its agent did not answer/);
  } finally {
    server = await startAgent();
    await op.close();
    store.close();
  }
});
