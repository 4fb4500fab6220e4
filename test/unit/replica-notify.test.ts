/**
 * Notifications: each transition fires once (failed, rpo-breached,
 * recovered); a webhook (a local HTTP listener) gets the JSON body, is
 * retried after an error, and one that hangs or keeps failing is a warning
 * within the timeout; a command gets the body on stdin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperationStore } from '../../controller/history/operation-store.js';
import { alertTransitions } from '../../controller/replication/alert-transitions.js';
import { Notifier, type NotificationBody } from '../../controller/replication/notifier.js';
import { checkAlerts } from '../../controller/replication/replica-alerts.js';
import { ReplicaStore } from '../../controller/replication/replica-store.js';
import { runEffect } from '../../controller/replication/run-replica.js';

/** A local webhook: answers with `status(n)` for the n-th request (or never, for 0), records bodies. */
async function listener(status: (n: number) => number): Promise<{ url: string; bodies: NotificationBody[]; requests: () => number; close(): Promise<void> }> {
  const bodies: NotificationBody[] = [];
  let n = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.setEncoding('utf8').on('data', (s: string) => (text += s));
    req.on('end', () => {
      n += 1;
      const code = status(n);
      if (code === 0) return;
      if (code === 200) bodies.push(JSON.parse(text) as NotificationBody);
      res.writeHead(code).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    bodies,
    requests: () => n,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

test('transitions: once per change of condition', () => {
  const none = { failing: false, breached: false };
  assert.deepEqual(alertTransitions(none, { failing: false, breached: false }), { events: [], alerts: none });
  assert.deepEqual(alertTransitions(none, { failing: true, breached: false }).events, ['failed']);
  assert.deepEqual(alertTransitions({ failing: true, breached: false }, { failing: true, breached: false }).events, [], 'still failing: nothing new');
  assert.deepEqual(alertTransitions({ failing: true, breached: false }, { failing: true, breached: true }).events, ['rpo-breached']);
  assert.deepEqual(alertTransitions(none, { failing: true, breached: true }).events, ['failed', 'rpo-breached']);
  assert.deepEqual(alertTransitions({ failing: true, breached: true }, { failing: false, breached: false }), { events: ['recovered'], alerts: none });
  assert.deepEqual(alertTransitions({ failing: true, breached: true }, { failing: false, breached: true }), { events: [], alerts: { failing: false, breached: true } });
});

/** Records a sync run of replica web1 that ended with `outcome` at `at`, as the scheduler would. */
function recordRun(store: ReplicaStore, outcome: 'succeeded' | 'failed', at: number): void {
  const run = {
    replica: 'web1',
    operationId: null,
    kind: 'sync' as const,
    startedAt: new Date(at).toISOString(),
    finishedAt: new Date(at + 1000).toISOString(),
    seconds: 1,
    bytesOnWire: 0,
    delta: null,
    outcome,
    errorCode: outcome === 'failed' ? 'UNAVAILABLE' : null,
    errorMessage: outcome === 'failed' ? 'hostb unreachable' : null,
  };
  store.recordRun(run, runEffect(store.get('web1'), run));
}

test('a replica that fails, stays behind and recovers sends failed, rpo-breached, recovered — each once — to the webhook', async () => {
  const hook = await listener(() => 200);
  const dir = await mkdtemp(join(tmpdir(), 'notify-'));
  const ops = new OperationStore(join(dir, 'h.sqlite'));
  const warnings: string[] = [];
  try {
    const store = new ReplicaStore(ops.database);
    store.add({ name: 'web1', vm: 'web1', from: 'hosta', to: 'hostb', destVm: 'web1', targetDir: null, everySeconds: 60, keep: null, live: false });
    const notifier = new Notifier({ webhook: hook.url, command: undefined, timeoutMs: 3000 }, (m) => warnings.push(m));
    const created = Date.parse(store.get('web1').createdAt);
    const record = (outcome: 'succeeded' | 'failed', at: number): void => recordRun(store, outcome, at);
    record('failed', created + 1000);
    assert.deepEqual(
      checkAlerts(store, 'web1', notifier, 10_000, created + 2000).map((b) => b.event),
      ['failed'],
    );
    assert.deepEqual(checkAlerts(store, 'web1', notifier, 10_000, created + 3000), [], 'once');
    record('failed', created + 4000);
    assert.deepEqual(
      checkAlerts(store, 'web1', notifier, 10_000, created + 71_000).map((b) => b.event),
      ['rpo-breached'],
      'past 60 s + 10 s grace',
    );
    store.setPaused('web1', true);
    assert.deepEqual(checkAlerts(store, 'web1', notifier, 10_000, created + 500_000), [], 'paused: left alone');
    store.setPaused('web1', false);
    record('succeeded', created + 600_000);
    assert.deepEqual(
      checkAlerts(store, 'web1', notifier, 10_000, created + 610_000).map((b) => b.event),
      ['recovered'],
    );
    await notifier.settle();
    assert.deepEqual(
      hook.bodies.map((b) => b.event),
      ['failed', 'rpo-breached', 'recovered'],
    );
    const failed = hook.bodies[0];
    assert.equal(failed?.replica, 'web1');
    assert.equal(failed?.lastError, 'hostb unreachable');
    assert.equal(failed?.consecutiveFailures, 1);
    assert.equal(hook.bodies[1]?.lagSeconds, 71);
    assert.equal(hook.bodies[1]?.rpoSeconds, 60);
    assert.deepEqual(warnings, []);
  } finally {
    ops.close();
    await hook.close();
    await rm(dir, { recursive: true, force: true });
  }
});

const body: NotificationBody = {
  replica: 'r',
  event: 'failed',
  at: '2030-01-01T00:00:00.000Z',
  vm: 'v',
  from: 'a',
  to: 'b',
  destVm: 'v',
  state: 'failing',
  lagSeconds: 1,
  rpoSeconds: 60,
  consecutiveFailures: 1,
  lastError: 'x',
};

test('a webhook error is retried; a hook that keeps failing or hangs is a warning within the timeout', async () => {
  const flaky = await listener((n) => (n === 1 ? 503 : 200));
  const broken = await listener(() => 500);
  const hanging = await listener(() => 0);
  try {
    const warnings: string[] = [];
    const started = Date.now();
    const notifiers = [flaky.url, broken.url, hanging.url].map((url) => new Notifier({ webhook: url, command: undefined, timeoutMs: 1500 }, (m) => warnings.push(m)));
    for (const n of notifiers) n.send(body);
    await Promise.all(notifiers.map((n) => n.settle()));
    assert.ok(Date.now() - started < 4000);
    assert.equal(flaky.bodies.length, 1, 'delivered on the second attempt');
    assert.equal(broken.requests(), 3, 'three attempts, no more');
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings.join('\n'), /HTTP 500/);
    assert.match(warnings.join('\n'), /no answer within the notify timeout/);
  } finally {
    await Promise.all([flaky.close(), broken.close(), hanging.close()]);
  }
});

test('settle waits at most the timeout for a hanging hook', async () => {
  const hanging = await listener(() => 0);
  try {
    const warnings: string[] = [];
    const n = new Notifier({ webhook: hanging.url, command: undefined, timeoutMs: 800 }, (m) => warnings.push(m));
    const started = Date.now();
    n.send(body);
    await n.settle();
    const took = Date.now() - started;
    assert.ok(took >= 700 && took < 2000, `settled after ${took} ms`);
    assert.equal(warnings.length, 1);
  } finally {
    await hanging.close();
  }
});

test('a command gets the body on stdin; a failing command is a warning', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'notify-cmd-'));
  try {
    const out = join(dir, 'body.json');
    const warnings: string[] = [];
    const n = new Notifier({ webhook: undefined, command: ['/bin/sh', '-c', `cat > ${out}`], timeoutMs: 3000 }, (m) => warnings.push(m));
    n.send(body);
    await n.settle();
    assert.deepEqual(JSON.parse(await readFile(out, 'utf8')), body);
    const bad = new Notifier({ webhook: undefined, command: ['/bin/sh', '-c', 'echo nope >&2; exit 3'], timeoutMs: 3000 }, (m) => warnings.push(m));
    bad.send(body);
    await bad.settle();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /exited with 3: nope/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
