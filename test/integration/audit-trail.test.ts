/**
 * The audit trail of a real agent process (libvirt's test driver, real
 * files): DefineDomain, WriteRanges and RemoveImage each leave exactly one
 * record, on disk by the time the answer arrives, with outcome and status; a
 * refused call is recorded with its code; read-only calls leave none;
 * ReadAudit filters; an agent that cannot open its trail does not start; and
 * an agent whose trail fills its filesystem refuses mutating calls
 * (UNAVAILABLE) until there is room again, then writes what it owed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { createAgentClients, unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import { chunkHash } from '../../shared/block-hash.js';
import type { AuditEntry__Output } from '../../shared/generated/kvmclone/agent/v1/AuditEntry.js';
import type { ReadAuditRequest } from '../../shared/generated/kvmclone/agent/v1/ReadAuditRequest.js';
import type { WriteRangesRequest } from '../../shared/generated/kvmclone/agent/v1/WriteRangesRequest.js';
import type { WriteRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/WriteRangesResponse.js';
import { parseRecordLine, type AuditRecord } from '../../agent/audit/audit-record.js';
import { AGENT_NODE_OPTIONS } from '../../agent/node-options.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { AGENT_MAIN, spawnAgent, waitForSocket, type AgentProcess } from '../support/agent-process.js';

const T = { deadlineMs: 30_000 };
const V1 = '/kvmclone.agent.v1.';
let dir: string;
let images: string;
let auditFile: string;
let agent: AgentProcess;
let clients: AgentClients;

function vmXml(name: string, extra = ''): string {
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>${extra}</devices></domain>`;
}

async function records(file = auditFile): Promise<AuditRecord[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const r = parseRecordLine(l);
      assert.ok(r, `not a record: ${l}`);
      return r;
    });
}

/** Runs `fn` and returns the records it added to the trail. */
async function added(fn: () => Promise<unknown>, file = auditFile): Promise<AuditRecord[]> {
  const before = (await records(file)).length;
  await fn().catch(() => undefined);
  // No waiting: the record is on disk before the answer is sent.
  return (await records(file)).slice(before);
}

function writeRanges(c: AgentClients, messages: WriteRangesRequest[]): Promise<WriteRangesResponse__Output> {
  return new Promise((resolve, reject) => {
    const call = c.disk.writeRanges(new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (err, res) =>
      err ? reject(err) : res ? resolve(res) : reject(new Error('WriteRanges answered nothing')),
    );
    for (const m of messages) call.write(m);
    call.end();
  });
}

function readAudit(c: AgentClients, request: Partial<ReadAuditRequest>): Promise<AuditEntry__Output[]> {
  return new Promise((resolve, reject) => {
    const out: AuditEntry__Output[] = [];
    const call = c.info.readAudit(request, { deadline: Date.now() + 30_000 });
    call.on('data', (e: AuditEntry__Output) => out.push(e));
    call.on('error', reject);
    call.on('end', () => resolve(out));
  });
}

function checkCaller(r: AuditRecord): void {
  // Null until the agent accepts its connections itself (SO_PEERCRED); then it must name this process.
  if (r.caller !== null) {
    assert.equal(r.caller.uid, process.getuid?.());
    assert.equal(r.caller.pid, process.pid);
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-audit-it-'));
  images = join(dir, 'images');
  auditFile = join(dir, 'log', 'audit.log');
  await mkdir(images);
  const socket = join(dir, 'run', 'agent.sock');
  agent = spawnAgent(['--socket', socket, '--images-root', images, '--libvirt-uri', 'test:///default', '--audit-file', auditFile]);
  await waitForSocket(agent, socket);
  clients = createAgentClients(`unix:${socket}`);
});

after(async () => {
  clients?.close();
  if (agent?.child.exitCode === null) agent.child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

test('read-only calls leave no record', async () => {
  await writeFile(join(images, 'ro.raw'), Buffer.alloc(65536, 1));
  const got = await added(async () => {
    await unaryCall(clients.info, clients.info.getInfo, {}, T);
    await unaryCall(clients.domain, clients.domain.listDomains, {}, T);
    await unaryCall(clients.domain, clients.domain.describeDomain, { name: 'test' }, T);
    await unaryCall(clients.disk, clients.disk.statImage, { path: join(images, 'ro.raw') }, T);
    await unaryCall(clients.disk, clients.disk.digestImage, { path: join(images, 'ro.raw') }, T);
    await readAudit(clients, {});
  });
  assert.deepEqual(got, []);
});

test('DefineDomain: exactly one record, with the VM, the operation and OK', async () => {
  const operationId = randomUUID();
  const got = await added(() => unaryCall(clients.domain, clients.domain.defineDomain, { xml: vmXml('audit-vm1'), operationId }, T));
  assert.equal(got.length, 1);
  const [r] = got as [AuditRecord];
  assert.equal(r.method, `${V1}DomainService/DefineDomain`);
  assert.equal(r.vm, 'audit-vm1');
  assert.equal(r.operationId, operationId);
  assert.equal(r.outcome, 'ok');
  assert.equal(r.code, 'OK');
  assert.ok(r.durationMs >= 0);
  checkCaller(r);
  // The same record goes to the agent's log (journald under systemd).
  const logged = agent.output.filter((l) => l.includes('"msg":"audit"')).map((l) => JSON.parse(l) as { audit?: AuditRecord });
  assert.deepEqual(logged.at(-1)?.audit, r);
});

test('WriteRanges (a client stream): one record at its end, naming the target and the staging file', async () => {
  const data = randomBytes(65536);
  const target = join(images, 'written.raw');
  let res: WriteRangesResponse__Output | undefined;
  const got = await added(async () => {
    res = await writeRanges(clients, [{ open: { targetPath: target, size: 65536 } }, { data: { offset: 0, data, hash: chunkHash(data) } }]);
  });
  assert.ok(res);
  assert.equal(got.length, 1);
  const [r] = got as [AuditRecord];
  assert.equal(r.method, `${V1}DiskService/WriteRanges`);
  assert.deepEqual(r.paths, [target, res.stagingPath]);
  assert.equal(r.code, 'OK');
});

test('RemoveImage: one record; refused calls are recorded with their code and message', async () => {
  const path = join(images, 'gone.raw');
  await writeFile(path, Buffer.alloc(4096));
  const removed = await added(() => unaryCall(clients.disk, clients.disk.removeImage, { path }, T));
  assert.equal(removed.length, 1);
  assert.deepEqual([removed[0]?.method, removed[0]?.paths, removed[0]?.code], [`${V1}DiskService/RemoveImage`, [path], 'OK']);

  const escape = await added(() => rejectsWithStatus(unaryCall(clients.disk, clients.disk.removeImage, { path: `${images}/../etc/passwd` }, T), 'INVALID_ARGUMENT'));
  assert.equal(escape.length, 1);
  assert.equal(escape[0]?.outcome, 'error');
  assert.equal(escape[0]?.code, 'INVALID_ARGUMENT');
  assert.match(escape[0]?.message ?? '', /'\.\.' segment/);
  assert.deepEqual(escape[0]?.paths, [`${images}/../etc/passwd`], 'what was asked for, as asked');

  const hostdev = "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0' bus='0' slot='1' function='0'/></source></hostdev>";
  const refused = await added(() => rejectsWithStatus(unaryCall(clients.domain, clients.domain.defineDomain, { xml: vmXml('audit-evil', hostdev) }, T), 'PERMISSION_DENIED'));
  assert.equal(refused.length, 1);
  assert.deepEqual([refused[0]?.vm, refused[0]?.code], ['audit-evil', 'PERMISSION_DENIED']);

  const badName = await added(() => rejectsWithStatus(unaryCall(clients.domain, clients.domain.startDomain, { name: 'no such vm!' }, T), 'INVALID_ARGUMENT'));
  assert.equal(badName.length, 1);
  assert.equal(badName[0]?.code, 'INVALID_ARGUMENT');
});

test('the peer socket: a read without a ticket and a write are refused and recorded; a refused read-only call is not', async () => {
  const peer = createAgentClients(`unix:${join(dir, 'run', 'peer.sock')}`);
  try {
    await writeFile(join(images, 'secret.raw'), Buffer.alloc(65536, 7));
    const got = await added(async () => {
      await rejectsWithStatus(
        new Promise((resolve, reject) => {
          const call = peer.disk.readRanges({ path: join(images, 'secret.raw') }, { deadline: Date.now() + 30_000 });
          call.on('data', () => undefined);
          call.on('error', reject);
          call.on('end', resolve);
        }),
        'PERMISSION_DENIED',
      );
      await rejectsWithStatus(unaryCall(peer.disk, peer.disk.removeImage, { path: join(images, 'secret.raw') }, T), 'PERMISSION_DENIED');
      await rejectsWithStatus(unaryCall(peer.disk, peer.disk.statImage, { path: join(images, 'secret.raw') }, T), 'PERMISSION_DENIED');
    });
    assert.deepEqual(
      got.map((r) => [r.method, r.code, r.paths[0]]),
      [
        [`${V1}DiskService/ReadRanges`, 'PERMISSION_DENIED', join(images, 'secret.raw')],
        [`${V1}DiskService/RemoveImage`, 'PERMISSION_DENIED', join(images, 'secret.raw')],
      ],
    );
    assert.match(got[0]?.message ?? '', /ticket/);
  } finally {
    peer.close();
  }
});

test('clients made for an operation send its id with every call: records of requests without an operation_id field name it', async () => {
  const operationId = randomUUID();
  const opClients = createAgentClients(`unix:${join(dir, 'run', 'agent.sock')}`, {}, operationId);
  try {
    const path = join(images, 'op.raw');
    await writeFile(path, 'x');
    const got = await added(() => unaryCall(opClients.disk, opClients.disk.removeImage, { path }, T));
    assert.deepEqual(
      got.map((r) => [r.operationId, r.paths[0]]),
      [[operationId, path]],
    );
    // A request's own field wins over the metadata.
    const own = randomUUID();
    const define = await added(() => unaryCall(opClients.domain, opClients.domain.defineDomain, { xml: vmXml('audit-vm2'), operationId: own }, T));
    assert.equal(define[0]?.operationId, own);
  } finally {
    opClients.close();
  }
});

test("ReadAudit returns the file's records and filters by vm, operation id, since and limit; bad input is INVALID_ARGUMENT", async () => {
  const all = await records();
  const back = await readAudit(clients, {});
  assert.equal(back.length, all.length);
  assert.deepEqual(
    back.map((e) => [e.method, e.code, e.vm, e.operationId]),
    all.map((r) => [r.method, r.code, r.vm ?? '', r.operationId ?? '']),
  );
  const byVm = await readAudit(clients, { vm: 'audit-vm1' });
  assert.deepEqual(
    byVm.map((e) => e.method),
    [`${V1}DomainService/DefineDomain`],
  );
  const op = all.find((r) => r.operationId !== null)?.operationId ?? '';
  assert.equal((await readAudit(clients, { operationId: op })).length, 1);
  assert.equal((await readAudit(clients, { since: new Date(Date.now() + 60_000).toISOString() })).length, 0);
  assert.equal((await readAudit(clients, { since: all[0]?.time ?? '' })).length, all.length);
  assert.deepEqual(
    (await readAudit(clients, { limit: 2 })).map((e) => e.time),
    all.slice(-2).map((r) => r.time),
  );
  await rejectsWithStatus(readAudit(clients, { since: 'last tuesday' }), 'INVALID_ARGUMENT');
  await rejectsWithStatus(readAudit(clients, { vm: 'a/b' }), 'INVALID_ARGUMENT');
  await rejectsWithStatus(readAudit(clients, { limit: 1_000_000 }), 'INVALID_ARGUMENT');
  const info = await unaryCall(clients.info, clients.info.getInfo, {}, T);
  assert.ok(info.capabilities.includes('audit.read'));
});

test('an agent that cannot open its audit trail does not start', async () => {
  await writeFile(join(dir, 'not-a-dir'), 'x');
  const bad = spawnAgent([
    '--socket',
    join(dir, 'run2', 'agent.sock'),
    '--images-root',
    images,
    '--libvirt-uri',
    'test:///default',
    '--audit-file',
    join(dir, 'not-a-dir', 'audit.log'),
  ]);
  assert.equal(await bad.exited, 1);
  assert.match(bad.output.join('\n'), /cannot open the audit trail .*not-a-dir\/audit\.log/);
});

test('a full audit filesystem: the call in flight keeps its answer, later mutating calls are UNAVAILABLE until there is room, then the owed record comes first', async () => {
  // The agent runs in its own mount namespace with a 8 KiB tmpfs for its trail; the test reaches it through /proc/PID/root.
  const logDir = join(dir, 'small-log');
  const run = join(dir, 'run3');
  await mkdir(logDir);
  const socket = join(run, 'agent.sock');
  // An empty config of its own: never the machine's /etc/kvmclone/agent.yaml (the installed package's).
  await writeFile(join(dir, 'empty-agent.yaml'), '');
  const agentArgs = [
    ...AGENT_NODE_OPTIONS,
    AGENT_MAIN,
    '--config',
    join(dir, 'empty-agent.yaml'),
    '--socket',
    socket,
    '--images-root',
    images,
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
  const c3 = createAgentClients(`unix:${socket}`);
  try {
    await waitForSocket(proc, socket);
    const inside = join(`/proc/${child.pid}/root`, logDir);
    const file = join(inside, 'audit.log');
    // Fill the tmpfs: the next record has no room.
    await writeFile(join(inside, 'filler'), Buffer.alloc(8192)).catch(() => undefined);
    const missing = join(images, 'never-there.raw');
    let answer: { removed: boolean } | undefined;
    const first = await added(async () => {
      answer = await unaryCall(c3.disk, c3.disk.removeImage, { path: missing }, T);
    }, file);
    assert.deepEqual(first, [], 'no room for the record');
    assert.deepEqual(answer, { removed: false }, 'the call in flight got its own answer');
    // The next call that would change something is refused before it runs; reading still works.
    const refusal = await rejectsWithStatus(unaryCall(c3.disk, c3.disk.removeImage, { path: missing }, T), 'UNAVAILABLE');
    assert.match(refusal, /audit trail .* cannot be written/);
    await writeFile(join(images, 'keep.raw'), 'x');
    await rejectsWithStatus(unaryCall(c3.disk, c3.disk.removeImage, { path: join(images, 'keep.raw') }, T), 'UNAVAILABLE');
    assert.equal(await readFile(join(images, 'keep.raw'), 'utf8'), 'x', 'the refused call removed nothing');
    await unaryCall(c3.info, c3.info.getInfo, {}, T);
    assert.ok(output.join('').includes('audit record not written yet'), 'the record went to the log meanwhile');
    // Room again: the next call is admitted after the retry, and the owed record is written before its own.
    await rm(join(inside, 'filler'));
    await sleep(1100);
    const got = await added(() => unaryCall(c3.disk, c3.disk.removeImage, { path: join(images, 'keep.raw') }, T), file);
    assert.deepEqual(
      got.map((r) => [r.paths[0], r.code]),
      [
        [missing, 'OK'],
        [join(images, 'keep.raw'), 'OK'],
      ],
    );
  } finally {
    c3.close();
    child.kill('SIGTERM');
    await proc.exited;
  }
});
