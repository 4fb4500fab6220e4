/**
 * The audit trail end to end on the testbed: after a kvmctl clone, `kvmctl
 * audit` over SSH shows what each host's agent recorded for the operation —
 * the destination's pulls, commits and definition, the source's ticket and
 * the reads made through it — every record naming the operation; read-only
 * commands add nothing; `kvmctl ops show` links to (and with
 * --agent-records shows) the records of both hosts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cloneToHostb, kvmctl } from '../support/kvmctl.js';
import { E2E_DIR } from '../support/testbed.js';
import { downHosts, upHosts } from '../support/e2e-hosts.js';
import { makeTwoDiskVm } from '../support/two-disk-vm.js';

const V1 = '/kvmclone.agent.v1.';
let state: string;
let operationId: string;

interface Entry {
  method: string;
  operationId: string;
  vm: string;
  code: string;
  outcome: string;
  paths: string[];
}

async function audit(host: string, ...flags: string[]): Promise<Entry[]> {
  const out = await kvmctl(['--json', 'audit', host, ...flags], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  return out.result?.records as Entry[];
}

function auditLines(host: string): Promise<string[]> {
  return readFile(join(E2E_DIR, host, 'var-log-kvmclone', 'audit.log'), 'utf8').then((t) => t.split('\n').filter(Boolean));
}

before(async () => {
  state = await upHosts('audit');
  await makeTwoDiskVm('hosta', 'avm', { rawGiB: 1, dataMiB: 4 });
  const out = await cloneToHostb('avm', state, ['--name', 'avm-copy']);
  operationId = String(out.result?.id);
});

after(() => downHosts(state));

test('the destination recorded the clone: pulls, commits and the definition, each naming the operation', async () => {
  const records = await audit('hostb', '--op', operationId);
  const methods = records.map((r) => r.method);
  for (const m of ['TransferService/HoldLock', 'TransferService/PullImage', 'DiskService/CommitStaging', 'DomainService/DefineDomain']) {
    assert.ok(methods.includes(`${V1}${m}`), `${m} in ${methods.join(', ')}`);
  }
  assert.ok(records.every((r) => r.operationId === operationId));
  const define = records.find((r) => r.method === `${V1}DomainService/DefineDomain`);
  assert.deepEqual([define?.vm, define?.code, define?.outcome], ['avm-copy', 'OK', 'ok']);
  // The disks of the copy, and the backing file copied under its own name.
  const commits = records.filter((r) => r.method === `${V1}DiskService/CommitStaging`).map((r) => `${r.code} ${r.paths[0] ?? ''}`);
  assert.ok(commits.length >= 2 && commits.every((c) => c.startsWith('OK /var/lib/libvirt/images/avm')), commits.join('\n'));
  assert.ok(commits.includes('OK /var/lib/libvirt/images/avm-copy.qcow2') && commits.includes('OK /var/lib/libvirt/images/avm-copy-data.raw'), commits.join('\n'));
});

test("the source recorded the ticket and the reads made through it, and nothing of the destination's", async () => {
  const records = await audit('hosta', '--op', operationId);
  const methods = new Set(records.map((r) => r.method));
  for (const m of ['TransferService/HoldLock', 'TransferService/OpenTicket', 'DiskService/ReadRanges']) assert.ok(methods.has(`${V1}${m}`), `${m} in ${[...methods].join(', ')}`);
  assert.ok(!methods.has(`${V1}DomainService/DefineDomain`));
  // Each host's file is its own.
  assert.ok((await auditLines('hosta')).every((l) => !l.includes('avm-copy"') || !l.includes('DefineDomain')));
});

test('filters: --vm, --since; read-only commands add nothing; the text table', async () => {
  const before = (await auditLines('hostb')).length;
  const ls = await kvmctl(['--json', 'ls', 'hostb'], { stateDir: state });
  assert.equal(ls.code, 0, ls.stderr);
  const check = await kvmctl(['--json', 'hosts', 'check', 'hostb'], { stateDir: state });
  assert.equal(check.code, 0, check.stderr);
  // ls reads only; hosts check's one change is the removal of the socket its -R probe bound in the forward directory.
  const added = (await auditLines('hostb')).slice(before);
  assert.equal(added.length, 1, added.join('\n'));
  assert.match(added[0] ?? '', /TransferService\/RemovePeerSocket.*\/run\/kvmclone\/forward\/peer-check-[0-9a-f]+\.sock/);
  const byVm = await audit('hostb', '--vm', 'avm-copy');
  assert.ok(byVm.length > 0 && byVm.every((r) => r.vm === 'avm-copy'));
  assert.deepEqual(await audit('hostb', '--since', '2099-01-01T00:00:00Z'), []);
  assert.ok((await audit('hostb', '--since', '1h')).length >= byVm.length);
  const text = await kvmctl(['audit', 'hostb', '--op', operationId], { stateDir: state });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^TIME +CALL +CODE +VM +OPERATION/);
  assert.match(text.stdout, /DomainService\/DefineDomain +OK +avm-copy +[0-9a-f]{8}/);
});

test('ops show names the audit commands of both hosts, and --agent-records shows their records', async () => {
  const plain = await kvmctl(['ops', 'show', operationId], { stateDir: state });
  assert.equal(plain.code, 0, plain.stderr);
  assert.ok(plain.stdout.includes(`kvmctl audit hosta --op ${operationId}`), plain.stdout);
  assert.ok(plain.stdout.includes(`kvmctl audit hostb --op ${operationId}`), plain.stdout);
  const full = await kvmctl(['ops', 'show', operationId, '--agent-records'], { stateDir: state });
  assert.equal(full.code, 0, full.stderr);
  assert.match(full.stdout, /recorded by the agent on hosta:\n.*TIME[^\n]*\n(.*\n)*.*TransferService\/OpenTicket/);
  assert.match(full.stdout, /recorded by the agent on hostb:\n.*TIME[^\n]*\n(.*\n)*.*DomainService\/DefineDomain/);
  const json = await kvmctl(['--json', 'ops', 'show', operationId, '--agent-records'], { stateDir: state });
  assert.equal(json.code, 0, json.stderr);
  const records = json.result?.agentRecords as Record<string, Entry[]>;
  assert.ok(records.hosta?.length && records.hostb?.length);
});
