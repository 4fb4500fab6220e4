/**
 * A clone interrupted on the testbed: the controller SIGKILLed mid-transfer
 * (its SSH masters go with it; the same command again resumes and sends
 * less) and Ctrl-C (exit 130, everything made on B removed, the source
 * untouched). Split from clone.test.ts, with the same hosts and config.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { domains, imageFiles } from '../support/host-inventory.js';
import { killMidClone } from '../support/kill-mid-clone.js';
import { kvmctl, startKvmctl, ONE_QUICK_RETRY, writeKvmctlConfig } from '../support/kvmctl.js';
import { hostExec, hostImagesDir, IMAGES } from '../support/testbed.js';
import { downHosts, upHosts } from '../support/e2e-hosts.js';
import { makeTwoDiskVm } from '../support/two-disk-vm.js';

const run = promisify(execFile);
let state: string;

before(async () => {
  state = await upHosts('clone-interrupted');
  await writeKvmctlConfig(state, ONE_QUICK_RETRY);
});

after(() => downHosts(state));

test('the controller killed mid-clone: the same command again resumes, sends less, and the copy is identical', async () => {
  await makeTwoDiskVm('hosta', 'vm4', { rawGiB: 2, dataMiB: 600 });
  const args = ['--json', 'clone', 'vm4', '--from', 'hosta', '--to', 'hostb'];
  await killMidClone(args, state);
  let masters = '';
  for (let i = 0; i < 50; i += 1) {
    masters = await run('pgrep', ['-af', 'ControlMaster=yes']).then(
      (r) => r.stdout,
      () => '',
    );
    if (masters === '') break;
    await sleep(100);
  }
  assert.equal(masters, '', 'no ssh master outlives the killed controller');
  const again = await kvmctl(args, { stateDir: state });
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.ok(
    again.events.some((e) => e.type === 'info' && /resuming clone/.test(String(e.message))),
    'the rerun says it resumes',
  );
  const sent = Number(again.result?.bytesOnWire);
  const full = 600 * 1024 * 1024;
  assert.ok(sent < full * 0.9, `fewer bytes on the wire than a full clone (${sent} of about ${full})`);
  await run('qemu-img', ['compare', '-q', join(hostImagesDir('hosta'), 'vm4-data.raw'), join(hostImagesDir('hostb'), 'vm4-data.raw')]);
  await run('cmp', [join(hostImagesDir('hosta'), 'vm4-data.raw'), join(hostImagesDir('hostb'), 'vm4-data.raw')]);
  assert.deepEqual(
    (await imageFiles('hostb')).filter((f) => f.includes('kvmclone-staging')),
    [],
    'no staging file is left',
  );
});

test('Ctrl-C mid-transfer: exit 130, everything created on B removed, the source untouched', async () => {
  await makeTwoDiskVm('hosta', 'vm6', { rawGiB: 2, dataMiB: 500 });
  const source = (): Promise<string> =>
    hostExec('hosta', ['bash', '-c', `cd ${IMAGES} && sha256sum vm6.qcow2 vm6-data.raw && virsh -c qemu:///system dumpxml --inactive vm6 | sha256sum`]);
  const sourceBefore = await source();
  const domainsBefore = await domains('hostb');
  const filesBefore = await imageFiles('hostb');
  const clone = startKvmctl(['--json', 'clone', 'vm6', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  let interrupted = false;
  clone.onEvent((e) => {
    if (!interrupted && e.type === 'progress' && e.item === 'vdb' && Number(e.bytesDone) > 300 * 1024 * 1024) {
      interrupted = true;
      clone.child.kill('SIGINT');
    }
  });
  const out = await clone.done;
  assert.ok(interrupted, 'the transfer was under way when Ctrl-C came');
  assert.equal(out.code, 130, `${out.stdout.slice(-2000)}\n${out.stderr}`);
  assert.ok(
    out.events.some((e) => e.type === 'phase' && e.phase === 'REVERT'),
    'the revert ran',
  );
  assert.deepEqual(await domains('hostb'), domainsBefore);
  assert.deepEqual(await imageFiles('hostb'), filesBefore, 'no staging file is left');
  const history = await kvmctl(['--json', 'ops', 'show', String(out.result?.id)], { stateDir: state });
  assert.equal((history.result?.record as { state: string }).state, 'interrupted');
  assert.equal(await source(), sourceBefore, 'the source VM and its disks are unchanged');
});
