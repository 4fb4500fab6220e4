/**
 * The audit trail of a real agent process (libvirt's test driver, real
 * files): DefineDomain, WriteRanges and RemoveImage each leave exactly one
 * record, on disk by the time the answer arrives, with outcome and status; a
 * refused call is recorded with its code, also on the peer socket; read-only
 * calls leave none; a client made for an operation names it; ReadAudit
 * returns and filters what the calls before it recorded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAgentClients, unaryCall } from '../../shared/agent-clients.js';
import { chunkHash } from '../../shared/block-hash.js';
import type { WriteRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/WriteRangesResponse.js';
import type { AuditRecord } from '../../agent/audit/audit-record.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { checkCaller, readAudit, T, useAuditAgent, V1, vmXml, writeRanges } from './support/audit-agent.js';

const audit = useAuditAgent({ spawn: true });

test('read-only calls leave no record', async () => {
  await writeFile(join(audit.images, 'ro.raw'), Buffer.alloc(65536, 1));
  const got = await audit.added(async () => {
    await unaryCall(audit.clients.info, audit.clients.info.getInfo, {}, T);
    await unaryCall(audit.clients.domain, audit.clients.domain.listDomains, {}, T);
    await unaryCall(audit.clients.domain, audit.clients.domain.describeDomain, { name: 'test' }, T);
    await unaryCall(audit.clients.disk, audit.clients.disk.statImage, { path: join(audit.images, 'ro.raw') }, T);
    await unaryCall(audit.clients.disk, audit.clients.disk.digestImage, { path: join(audit.images, 'ro.raw') }, T);
    await readAudit(audit.clients, {});
  });
  assert.deepEqual(got, []);
});

test('DefineDomain: exactly one record, with the VM, the operation and OK', async () => {
  const operationId = randomUUID();
  const got = await audit.added(() => unaryCall(audit.clients.domain, audit.clients.domain.defineDomain, { xml: vmXml('audit-vm1'), operationId }, T));
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
  const logged = audit.agent.output.filter((l) => l.includes('"msg":"audit"')).map((l) => JSON.parse(l) as { audit?: AuditRecord });
  assert.deepEqual(logged.at(-1)?.audit, r);
});

test('WriteRanges (a client stream): one record at its end, naming the target and the staging file', async () => {
  const data = randomBytes(65536);
  const target = join(audit.images, 'written.raw');
  let res: WriteRangesResponse__Output | undefined;
  const got = await audit.added(async () => {
    res = await writeRanges(audit.clients, [{ open: { targetPath: target, size: 65536 } }, { data: { offset: 0, data, hash: chunkHash(data) } }]);
  });
  assert.ok(res);
  assert.equal(got.length, 1);
  const [r] = got as [AuditRecord];
  assert.equal(r.method, `${V1}DiskService/WriteRanges`);
  assert.deepEqual(r.paths, [target, res.stagingPath]);
  assert.equal(r.code, 'OK');
});

test('RemoveImage: one record; refused calls are recorded with their code and message', async () => {
  const path = join(audit.images, 'gone.raw');
  await writeFile(path, Buffer.alloc(4096));
  const removed = await audit.added(() => unaryCall(audit.clients.disk, audit.clients.disk.removeImage, { path }, T));
  assert.equal(removed.length, 1);
  assert.deepEqual([removed[0]?.method, removed[0]?.paths, removed[0]?.code], [`${V1}DiskService/RemoveImage`, [path], 'OK']);

  const escape = await audit.added(() =>
    rejectsWithStatus(unaryCall(audit.clients.disk, audit.clients.disk.removeImage, { path: `${audit.images}/../etc/passwd` }, T), 'INVALID_ARGUMENT'),
  );
  assert.equal(escape.length, 1);
  assert.equal(escape[0]?.outcome, 'error');
  assert.equal(escape[0]?.code, 'INVALID_ARGUMENT');
  assert.match(escape[0]?.message ?? '', /'\.\.' segment/);
  assert.deepEqual(escape[0]?.paths, [`${audit.images}/../etc/passwd`], 'what was asked for, as asked');

  const hostdev = "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0' bus='0' slot='1' function='0'/></source></hostdev>";
  const refused = await audit.added(() =>
    rejectsWithStatus(unaryCall(audit.clients.domain, audit.clients.domain.defineDomain, { xml: vmXml('audit-evil', hostdev) }, T), 'PERMISSION_DENIED'),
  );
  assert.equal(refused.length, 1);
  assert.deepEqual([refused[0]?.vm, refused[0]?.code], ['audit-evil', 'PERMISSION_DENIED']);

  const badName = await audit.added(() => rejectsWithStatus(unaryCall(audit.clients.domain, audit.clients.domain.startDomain, { name: 'no such vm!' }, T), 'INVALID_ARGUMENT'));
  assert.equal(badName.length, 1);
  assert.equal(badName[0]?.code, 'INVALID_ARGUMENT');
});

test('the peer socket: a read without a ticket and a write are refused and recorded; a refused read-only call is not', async () => {
  const peer = createAgentClients(`unix:${join(audit.dir, 'run', 'peer.sock')}`);
  try {
    await writeFile(join(audit.images, 'secret.raw'), Buffer.alloc(65536, 7));
    const got = await audit.added(async () => {
      await rejectsWithStatus(
        new Promise((resolve, reject) => {
          const call = peer.disk.readRanges({ path: join(audit.images, 'secret.raw') }, { deadline: Date.now() + 30_000 });
          call.on('data', () => undefined);
          call.on('error', reject);
          call.on('end', resolve);
        }),
        'PERMISSION_DENIED',
      );
      await rejectsWithStatus(unaryCall(peer.disk, peer.disk.removeImage, { path: join(audit.images, 'secret.raw') }, T), 'PERMISSION_DENIED');
      await rejectsWithStatus(unaryCall(peer.disk, peer.disk.statImage, { path: join(audit.images, 'secret.raw') }, T), 'PERMISSION_DENIED');
    });
    assert.deepEqual(
      got.map((r) => [r.method, r.code, r.paths[0]]),
      [
        [`${V1}DiskService/ReadRanges`, 'PERMISSION_DENIED', join(audit.images, 'secret.raw')],
        [`${V1}DiskService/RemoveImage`, 'PERMISSION_DENIED', join(audit.images, 'secret.raw')],
      ],
    );
    assert.match(got[0]?.message ?? '', /ticket/);
  } finally {
    peer.close();
  }
});

test('clients made for an operation send its id with every call: records of requests without an operation_id field name it', async () => {
  const operationId = randomUUID();
  const opClients = createAgentClients(`unix:${join(audit.dir, 'run', 'agent.sock')}`, {}, operationId);
  try {
    const path = join(audit.images, 'op.raw');
    await writeFile(path, 'x');
    const got = await audit.added(() => unaryCall(opClients.disk, opClients.disk.removeImage, { path }, T));
    assert.deepEqual(
      got.map((r) => [r.operationId, r.paths[0]]),
      [[operationId, path]],
    );
    // A request's own field wins over the metadata.
    const own = randomUUID();
    const define = await audit.added(() => unaryCall(opClients.domain, opClients.domain.defineDomain, { xml: vmXml('audit-vm2'), operationId: own }, T));
    assert.equal(define[0]?.operationId, own);
  } finally {
    opClients.close();
  }
});

test("ReadAudit returns the file's records and filters by vm, operation id, since and limit; bad input is INVALID_ARGUMENT", async () => {
  const all = await audit.records();
  const back = await readAudit(audit.clients, {});
  assert.equal(back.length, all.length);
  assert.deepEqual(
    back.map((e) => [e.method, e.code, e.vm, e.operationId]),
    all.map((r) => [r.method, r.code, r.vm ?? '', r.operationId ?? '']),
  );
  const byVm = await readAudit(audit.clients, { vm: 'audit-vm1' });
  assert.deepEqual(
    byVm.map((e) => e.method),
    [`${V1}DomainService/DefineDomain`],
  );
  const op = all.find((r) => r.operationId !== null)?.operationId ?? '';
  assert.equal((await readAudit(audit.clients, { operationId: op })).length, 1);
  assert.equal((await readAudit(audit.clients, { since: new Date(Date.now() + 60_000).toISOString() })).length, 0);
  assert.equal((await readAudit(audit.clients, { since: all[0]?.time ?? '' })).length, all.length);
  assert.deepEqual(
    (await readAudit(audit.clients, { limit: 2 })).map((e) => e.time),
    all.slice(-2).map((r) => r.time),
  );
  await rejectsWithStatus(readAudit(audit.clients, { since: 'last tuesday' }), 'INVALID_ARGUMENT');
  await rejectsWithStatus(readAudit(audit.clients, { vm: 'a/b' }), 'INVALID_ARGUMENT');
  await rejectsWithStatus(readAudit(audit.clients, { limit: 1_000_000 }), 'INVALID_ARGUMENT');
  const info = await unaryCall(audit.clients.info, audit.clients.info.getInfo, {}, T);
  assert.ok(info.capabilities.includes('audit.read'));
});
