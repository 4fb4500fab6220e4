/**
 * The audit trail of real agent processes (libvirt's test driver, real
 * files) that cannot write it: an agent that cannot open its trail does not
 * start, and an agent whose trail fills its filesystem refuses mutating
 * calls (UNAVAILABLE) until there is room again, then writes what it owed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAgentClients, unaryCall } from '../../shared/agent-clients.js';
import { AGENT_NODE_OPTIONS } from '../../agent/node-options.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { AGENT_MAIN, spawnAgent, waitForSocket, type AgentProcess } from '../support/agent-process.js';
import { T, useAuditAgent } from './support/audit-agent.js';

const audit = useAuditAgent({ spawn: false });

test('an agent that cannot open its audit trail does not start', async () => {
  await writeFile(join(audit.dir, 'not-a-dir'), 'x');
  const bad = spawnAgent([
    '--socket',
    join(audit.dir, 'run2', 'agent.sock'),
    '--images-root',
    audit.images,
    '--libvirt-uri',
    'test:///default',
    '--audit-file',
    join(audit.dir, 'not-a-dir', 'audit.log'),
  ]);
  assert.equal(await bad.exited, 1);
  assert.match(bad.output.join('\n'), /cannot open the audit trail .*not-a-dir\/audit\.log/);
});

/** An agent in its own mount namespace with an 8 KiB tmpfs for its trail (logDir); a test reaches it through /proc/PID/root. */
async function startWithSmallTrail(): Promise<{ child: ChildProcess; output: string[]; proc: AgentProcess; socket: string; logDir: string }> {
  const logDir = join(audit.dir, 'small-log');
  const run = join(audit.dir, 'run3');
  await mkdir(logDir);
  const socket = join(run, 'agent.sock');
  // An empty config of its own: never the machine's /etc/kvmclone/agent.yaml (the installed package's).
  await writeFile(join(audit.dir, 'empty-agent.yaml'), '');
  const agentArgs = [
    ...AGENT_NODE_OPTIONS,
    AGENT_MAIN,
    '--config',
    join(audit.dir, 'empty-agent.yaml'),
    '--socket',
    socket,
    '--images-root',
    audit.images,
    '--libvirt-uri',
    'test:///default',
    '--audit-file',
    join(logDir, 'audit.log'),
  ];
  const child = spawn(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o size=8k,mode=700 tmpfs "$0" && exec "$@"`, logDir, process.execPath, ...agentArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  child.stdout.setEncoding('utf8').on('data', (s: string) => output.push(s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => output.push(s));
  const proc: AgentProcess = { child, output, exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1))) };
  return { child, output, proc, socket, logDir };
}

test('a full audit filesystem: the call in flight keeps its answer, later mutating calls are UNAVAILABLE until there is room, then the owed record comes first', async () => {
  // The agent runs in its own mount namespace with a 8 KiB tmpfs for its trail; the test reaches it through /proc/PID/root.
  const { child, output, proc, socket, logDir } = await startWithSmallTrail();
  const c3 = createAgentClients(`unix:${socket}`);
  try {
    await waitForSocket(proc, socket);
    const inside = join(`/proc/${child.pid}/root`, logDir);
    const file = join(inside, 'audit.log');
    // Fill the tmpfs: the next record has no room.
    await writeFile(join(inside, 'filler'), Buffer.alloc(8192)).catch(() => undefined);
    const missing = join(audit.images, 'never-there.raw');
    let answer: { removed: boolean } | undefined;
    const first = await audit.added(async () => {
      answer = await unaryCall(c3.disk, c3.disk.removeImage, { path: missing }, T);
    }, file);
    assert.deepEqual(first, [], 'no room for the record');
    assert.deepEqual(answer, { removed: false }, 'the call in flight got its own answer');
    // The next call that would change something is refused before it runs; reading still works.
    const refusal = await rejectsWithStatus(unaryCall(c3.disk, c3.disk.removeImage, { path: missing }, T), 'UNAVAILABLE');
    assert.match(refusal, /audit trail .* cannot be written/);
    await writeFile(join(audit.images, 'keep.raw'), 'x');
    await rejectsWithStatus(unaryCall(c3.disk, c3.disk.removeImage, { path: join(audit.images, 'keep.raw') }, T), 'UNAVAILABLE');
    assert.equal(await readFile(join(audit.images, 'keep.raw'), 'utf8'), 'x', 'the refused call removed nothing');
    await unaryCall(c3.info, c3.info.getInfo, {}, T);
    assert.ok(output.join('').includes('audit record not written yet'), 'the record went to the log meanwhile');
    // Room again: the next call is admitted after the retry, and the owed record is written before its own.
    await rm(join(inside, 'filler'));
    await sleep(1100);
    const got = await audit.added(() => unaryCall(c3.disk, c3.disk.removeImage, { path: join(audit.images, 'keep.raw') }, T), file);
    assert.deepEqual(
      got.map((r) => [r.paths[0], r.code]),
      [
        [missing, 'OK'],
        [join(audit.images, 'keep.raw'), 'OK'],
      ],
    );
  } finally {
    c3.close();
    child.kill('SIGTERM');
    await proc.exited;
  }
});
