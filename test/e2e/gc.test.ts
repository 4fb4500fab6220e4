/**
 * Orphans on the testbed: kvmctl killed (SIGKILL) mid-clone leaves staging
 * files on B that name its operation; `kvmctl hosts check` lists them with
 * their operation id and age; `kvmctl gc --dry-run` changes nothing; the
 * same command rerun still resumes from them. After a second kill, `gc
 * --older-than 1h` keeps the young files, `gc` removes them, and the rerun
 * starts over cleanly and completes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { imageFiles } from '../support/host-inventory.js';
import { killMidClone } from '../support/kill-mid-clone.js';
import { kvmctl } from '../support/kvmctl.js';
import { hostImagesDir } from '../support/testbed.js';
import { downHosts, upHosts } from '../support/e2e-hosts.js';
import { makeTwoDiskVm } from '../support/two-disk-vm.js';

const run = promisify(execFile);
let state: string;

interface Left {
  kind: string;
  path: string;
  operationId: string;
  ageSeconds: number;
  running: boolean;
  keepReason: string;
}

before(async () => {
  state = await upHosts('gc');
  await makeTwoDiskVm('hosta', 'vm8', { rawGiB: 2, dataMiB: 600 });
});

after(() => downHosts(state));

/** hostb's leftovers from `hosts check --json`, once no pull of the killed controller runs any more. */
async function settledLeftovers(): Promise<Left[]> {
  for (let i = 0; i < 60; i += 1) {
    const out = await kvmctl(['--json', 'hosts', 'check', 'hostb'], { stateDir: state });
    assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
    const left = (out.result?.hosts as { leftovers: Left[] }[])[0]?.leftovers ?? [];
    if (!left.some((l) => l.running)) return left;
    await sleep(500);
  }
  throw new Error("the killed controller's pulls still run on hostb after 30 s");
}

/** The id of the newest clone in kvmctl's history. */
async function lastOperationId(): Promise<string> {
  const ops = await kvmctl(['--json', 'ops', 'list'], { stateDir: state });
  const rows = ops.result?.operations as { id: string; kind: string }[];
  const row = rows.find((r) => r.kind === 'clone');
  assert.ok(row, JSON.stringify(rows));
  return row.id;
}

test('kvmctl killed mid-clone: hosts check lists the staging files with their operation and age; gc --dry-run changes nothing; the rerun resumes', async () => {
  const args = ['--json', 'clone', 'vm8', '--from', 'hosta', '--to', 'hostb'];
  await killMidClone(args, state);
  const opId = await lastOperationId();
  const left = await settledLeftovers();
  const staging = left.filter((l) => l.kind === 'staging');
  assert.ok(staging.length >= 1, JSON.stringify(left));
  for (const l of staging) {
    assert.equal(l.operationId, opId, 'each staging file names the killed operation');
    assert.ok(l.ageSeconds >= 0 && l.ageSeconds < 600);
    assert.equal(l.keepReason, '');
  }
  // The killed controller's peer socket on B (sshd never unlinks it) is its too.
  assert.ok(
    left.filter((l) => l.kind === 'peer-socket').every((l) => l.operationId === opId),
    JSON.stringify(left),
  );
  const removable = left.filter((l) => l.keepReason === '');
  // The text report names them too.
  const text = await kvmctl(['hosts', 'check', 'hostb'], { stateDir: state });
  assert.match(text.stdout, new RegExp(`leftovers: ${left.length} \\(${removable.length} removable with kvmctl gc hostb\\)`));
  assert.match(text.stdout, new RegExp(`staging +operation ${opId}, [^,]+ old`));

  const filesBefore = await imageFiles('hostb');
  const dry = await kvmctl(['--json', 'gc', 'hostb', '--dry-run'], { stateDir: state });
  assert.equal(dry.code, 0, `${dry.stdout}\n${dry.stderr}`);
  assert.deepEqual((dry.result?.removed as Left[]).map((l) => l.path).sort(), removable.map((l) => l.path).sort());
  assert.deepEqual(await imageFiles('hostb'), filesBefore, 'a dry run removes nothing');

  const again = await kvmctl(args, { stateDir: state });
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.ok(
    again.events.some((e) => e.type === 'info' && /resuming staging file/.test(String(e.message))),
    'the rerun resumes from the staging files',
  );
  await run('cmp', [join(hostImagesDir('hosta'), 'vm8-data.raw'), join(hostImagesDir('hostb'), 'vm8-data.raw')]);
  assert.deepEqual(
    (await settledLeftovers()).filter((l) => l.kind === 'staging'),
    [],
    'nothing left after the rerun',
  );
});

test('gc after a kill: --older-than keeps young files, gc removes them, and the rerun starts over cleanly', async () => {
  const args = ['--json', 'clone', 'vm8', '--from', 'hosta', '--to', 'hostb', '--name', 'vm8b'];
  await killMidClone(args, state);
  const opId = await lastOperationId();
  const left = await settledLeftovers();
  const staging = left.filter((l) => l.kind === 'staging');
  assert.ok(staging.length >= 1 && staging.every((l) => l.operationId === opId), JSON.stringify(staging));

  const young = await kvmctl(['--json', 'gc', 'hostb', '--older-than', '1h'], { stateDir: state });
  assert.equal(young.code, 0, `${young.stdout}\n${young.stderr}`);
  assert.deepEqual(young.result?.removed, []);
  assert.ok((young.result?.kept as Left[]).filter((l) => l.kind === 'staging').every((l) => /younger than the age limit/.test(l.keepReason)));
  assert.equal((await imageFiles('hostb')).filter((f) => f.includes('kvmclone-staging')).length, staging.length);

  const gc = await kvmctl(['gc', 'hostb'], { stateDir: state });
  assert.equal(gc.code, 0, `${gc.stdout}\n${gc.stderr}`);
  assert.match(gc.stdout, new RegExp(`hostb: removed ${left.filter((l) => l.keepReason === '').length}, kept ${left.filter((l) => l.keepReason !== '').length}`));
  for (const l of staging) assert.match(gc.stdout, new RegExp(`removed: staging +operation ${opId}, [^,]+ old, [^:]+: ${l.path.replace(/[.]/g, '\\.')}\n`));
  assert.deepEqual(
    (await imageFiles('hostb')).filter((f) => f.includes('kvmclone-staging')),
    [],
  );

  const again = await kvmctl(args, { stateDir: state });
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.equal(
    again.events.some((e) => e.type === 'info' && /resuming staging file/.test(String(e.message))),
    false,
    'nothing to resume from: it starts over',
  );
  assert.ok(Number(again.result?.bytesOnWire) > 0.9 * 600 * 1024 * 1024, `the data disk was sent again (${String(again.result?.bytesOnWire)} bytes)`);
  await run('cmp', [join(hostImagesDir('hosta'), 'vm8-data.raw'), join(hostImagesDir('hostb'), 'vm8b-data.raw')]);
  assert.deepEqual(
    (await settledLeftovers()).filter((l) => l.kind === 'staging'),
    [],
  );
});
