import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitCodeFor } from '../../controller/cli/exit-codes.js';
import { JsonReporter, formatBytes } from '../../controller/cli/reporter.js';
import { loadControllerOptions } from '../../controller/config/controller-config.js';
import { selectEngine } from '../../controller/transport/select-engine.js';
import { OperationStore } from '../../controller/history/operation-store.js';
import { ConfigError } from '../../shared/config/config-file.js';
import { RevertStack } from '../../shared/revert-stack.js';
import { ProgressThrottle } from '../../shared/progress-throttle.js';

test('exit codes: refusals in preflight are 3, failures 1, interrupts 130, usage 2', () => {
  assert.equal(exitCodeFor('RESOURCE_EXHAUSTED', 'preflight'), 3);
  assert.equal(exitCodeFor('ALREADY_EXISTS', 'preflight'), 3);
  assert.equal(exitCodeFor('FAILED_PRECONDITION', 'preflight'), 3);
  assert.equal(exitCodeFor('RESOURCE_EXHAUSTED', 'run'), 1);
  assert.equal(exitCodeFor('UNAVAILABLE', 'preflight'), 1);
  assert.equal(exitCodeFor('CANCELLED', 'run'), 130);
  assert.equal(exitCodeFor('INVALID_ARGUMENT', 'preflight'), 2);
});

test('revert stack: undoes newest first, runs every step, reports failures, success clears it', async () => {
  const done: string[] = [];
  const stack = new RevertStack();
  stack.push('a', async () => void done.push('a'));
  stack.push('b', async () => {
    throw new Error('b failed');
  });
  stack.push('c', async () => void done.push('c'));
  const failures = await stack.revert();
  assert.deepEqual(done, ['c', 'a']);
  assert.deepEqual(
    failures.map((f) => f.description),
    ['b'],
  );
  stack.push('d', async () => void done.push('d'));
  stack.success();
  assert.deepEqual(await stack.revert(), []);
  assert.deepEqual(done, ['c', 'a']);
});

test('progress throttle: about 1 % steps with a known total, and always the end', () => {
  let now = 0;
  const t = new ProgressThrottle(1000, 1000, () => now);
  assert.equal(t.shouldReport(0), true);
  assert.equal(t.shouldReport(5), false);
  assert.equal(t.shouldReport(10), true);
  assert.equal(t.shouldReport(15), false);
  now = 2000;
  assert.equal(t.shouldReport(16), true, 'at least once a second');
  assert.equal(t.shouldReport(1000), true);
});

test('JSON reporter: NDJSON lines, the result last, progress de-duplicated per percent', () => {
  const lines: string[] = [];
  const r = new JsonReporter((l) => lines.push(l));
  r.phase('PREFLIGHT');
  r.progress('vda', 1, 1000);
  r.progress('vda', 2, 1000);
  r.progress('vda', 20, 1000);
  r.result({ ok: true, operation: 'clone' });
  const events = lines.map((l) => JSON.parse(l) as { type: string });
  assert.deepEqual(
    events.map((e) => e.type),
    ['phase', 'progress', 'progress', 'result'],
  );
  assert.equal(formatBytes(1536), '1.5 KiB');
});

test('controller config: defaults, flags over file, every bad key named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvmctl-config-'));
  try {
    const good = join(dir, 'ok.yaml');
    await writeFile(good, 'ssh:\n  engine: ssh2\n  connect_timeout: 3s\ntransfer:\n  concurrency: 4\ntimeouts:\n  no_progress: 30s\nagent:\n  socket: /run/x/agent.sock\n');
    const o = await loadControllerOptions({ config: good, agentSocket: '/run/y/agent.sock' });
    assert.equal(o.ssh.engine, 'ssh2');
    assert.equal(o.ssh.connectTimeoutS, 3);
    assert.equal(o.transfer.concurrency, 4);
    assert.equal(o.timeouts.noProgressMs, 30_000);
    assert.equal(o.agentSocket, '/run/y/agent.sock');
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'ssh:\n  engin: x\ntransfer:\n  concurrency: 0\n  compression: true\nstate:\n  db: x\n');
    await assert.rejects(loadControllerOptions({ config: bad }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const text = err.problems.join('\n');
      assert.match(text, /ssh\.engin: unknown key/);
      assert.match(text, /transfer\.concurrency: /);
      assert.match(text, /transfer\.compression: unknown key/);
      assert.match(text, /state\.db: unknown key/);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ssh.persist: off by default, a duration in whole seconds, refused with the ssh2 engine (it would do nothing there)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvmctl-config-'));
  try {
    const none = join(dir, 'none.yaml');
    await writeFile(none, '');
    assert.equal((await loadControllerOptions({ config: none })).ssh.persistS, 0);
    const on = join(dir, 'on.yaml');
    await writeFile(on, 'ssh:\n  engine: openssh\n  persist: 10m\n');
    const o = await loadControllerOptions({ config: on });
    assert.equal(o.ssh.persistS, 600);
    const rt = await mkdtemp(join(dir, 'rt-'));
    await assert.rejects(selectEngine({ ...o, ssh: { ...o.ssh, engine: 'ssh2' } }, rt), /ssh\.persist needs the OpenSSH engine \(ssh\.engine is ssh2\)/);
    const engine = await selectEngine({ ...o, ssh: { ...o.ssh, engine: 'ssh2', persistS: 0 } }, rt);
    assert.ok(engine);
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'ssh:\n  persist: forever\n');
    await assert.rejects(loadControllerOptions({ config: bad }), /ssh\.persist: "forever" is not a duration/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('history: begin, events, finish, list and show by prefix', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvmctl-history-'));
  try {
    const store = new OperationStore(join(dir, 'deep', 'history.sqlite'));
    store.begin({ id: 'aaaa1111-0000-0000-0000-000000000000', kind: 'clone', vm: 'web', destVm: 'web2', sourceHost: 'a', destHost: 'b' });
    store.event('aaaa1111-0000-0000-0000-000000000000', 'PREFLIGHT', { x: 1 });
    store.finish('aaaa1111-0000-0000-0000-000000000000', 'failed', { bytesOnWire: 42, errorCode: 'UNAVAILABLE', errorMessage: 'b: gone' });
    const [row] = store.list();
    assert.equal(row?.state, 'failed');
    assert.equal(row?.bytesOnWire, 42);
    const shown = store.get('aaaa1111');
    assert.equal(shown?.operation.errorMessage, 'b: gone');
    assert.deepEqual(
      shown?.events.map((e) => e.type),
      ['PREFLIGHT'],
    );
    assert.equal(store.get('zzzz'), undefined);
    const target = { kind: 'clone' as const, vm: 'web', destVm: 'web2', sourceHost: 'a', destHost: 'b' };
    store.begin({ id: 'bbbb2222-0000-0000-0000-000000000000', ...target });
    store.begin({ id: 'cccc3333-0000-0000-0000-000000000000', ...target, destVm: 'other' });
    assert.deepEqual(
      store.history(target).map((o) => o.id),
      ['bbbb2222-0000-0000-0000-000000000000', 'aaaa1111-0000-0000-0000-000000000000'],
    );
    assert.deepEqual(store.history({ ...target, kind: 'sync' }), []);
    store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
