/**
 * kvmctl clone/sync --live on the testbed, with a running guest (TCG: no
 * /dev/kvm needed; support/running-vm.ts) whose data disk is written from the host through QEMU (as the guest would):
 * the source keeps running on its own images with no job or scratch file
 * left; the second live sync reads only the dirty blocks (delta: bitmap);
 * a destination changed behind our back, lost checkpoint metadata and
 * --cbt=off fall back (or recover) with the reason given; refusals exit 3.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kvmctl } from '../support/kvmctl.js';
import { agentCommand, hostAgent, hostExec, hostImagesDir, SSH_ACCOUNT, testbedScript, TESTBED_DIR, IMAGES } from '../support/testbed.js';
import { downHosts, upHosts } from '../support/e2e-hosts.js';
import { forwardedAgent } from '../support/forwarded-agent.js';
import { checkPointInTime, ensureLiveGuestBuilt, hostWrite, makeLiveGuest, runTestbed, waitForPass } from '../support/live-guest.js';
import { assertNoLeftovers, compareImages, makeRunningVm, virsh } from '../support/running-vm.js';
import { serialOutput } from '../support/serial-console.js';

const MiB = 1024 * 1024;
let state: string;

before(async () => {
  state = await upHosts('live');
  await makeRunningVm('hosta', 'lv1');
});

after(() => downHosts(state));

test('a running source is refused without --live, with a hint naming it (exit 3)', async () => {
  const out = await kvmctl(['--json', 'clone', 'lv1', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.equal(out.code, 3, out.stdout);
  assert.match(JSON.stringify(out.result), /--live/);
});

test('clone --live: the source keeps running on its own images, the copy equals the point in time', async () => {
  const blklist = await virsh('hosta', ['domblklist', 'lv1']);
  const out = await kvmctl(['--json', 'clone', 'lv1', '--from', 'hosta', '--to', 'hostb', '--live'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  const result = out.result as { live: boolean; consistency: string; checkpoint: string; disks: { target: string; bytesRead: number; bytesTransferred: number }[] };
  assert.equal(result.live, true);
  assert.equal(result.consistency, 'crash', 'no guest agent: crash-consistent');
  assert.match(result.checkpoint, /^kvmclone\.[a-z0-9-]+\.1$/);
  assert.match(await virsh('hosta', ['domstate', 'lv1']), /running/);
  assert.equal(await virsh('hosta', ['domblklist', 'lv1']), blklist, 'the source is on its own images');
  await assertNoLeftovers('lv1');
  await compareImages('lv1-data.qcow2', 'lv1-data.qcow2');
  await compareImages('lv1.qcow2', 'lv1.qcow2');
  const vdb = result.disks.find((d) => d.target.endsWith('lv1-data.qcow2'));
  assert.ok(vdb && vdb.bytesRead >= 8 * MiB && vdb.bytesRead < 12 * MiB, `read about the 8 MiB of data (${vdb?.bytesRead})`);
  assert.match(await hostExec('hostb', ['qemu-img', 'info', `${IMAGES}/lv1-data.qcow2`]), /file format: qcow2/);
});

test('sync --live after guest writes: the dirty bitmap, bytesRead within 2x of what was written, equal to the point in time', async () => {
  const writes = [
    { pattern: 0x41, offset: 1 * MiB, length: 64 * 1024 },
    { pattern: 0x42, offset: 30 * MiB, length: 128 * 1024 },
    { pattern: 0x43, offset: 60 * MiB, length: 64 * 1024 },
  ];
  for (const w of writes) await hostWrite('hosta', 'lv1', w);
  const written = writes.reduce((n, w) => n + w.length, 0);
  // Another backup tool's checkpoint: used by nobody here, touched by nobody here.
  await virsh('hosta', ['checkpoint-create-as', 'lv1', '--name', 'othertool.1', '--diskspec', 'vda,checkpoint=no', '--diskspec', 'vdb,checkpoint=bitmap']);
  const out = await kvmctl(['--json', 'sync', 'lv1', '--from', 'hosta', '--to', 'hostb', '--live'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  const result = out.result as { delta: string; checkpoint: string; disks: { target: string; delta: string; bytesRead: number; bytesTransferred: number; verified: string }[] };
  assert.equal(result.delta, 'bitmap', JSON.stringify(result));
  assert.match(result.checkpoint, /\.2$/);
  const vdb = result.disks.find((d) => d.target.endsWith('lv1-data.qcow2'));
  assert.ok(vdb && vdb.bytesRead >= written && vdb.bytesRead <= 2 * written, `bytesRead ${vdb?.bytesRead} vs ${written} written`);
  assert.equal(vdb?.verified, 'changed-blocks');
  await compareImages('lv1-data.qcow2', 'lv1-data.qcow2');
  await assertNoLeftovers('lv1');
  const checkpoints = await virsh('hosta', ['checkpoint-list', 'lv1', '--name']);
  assert.equal(
    checkpoints
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('kvmclone.')).length,
    1,
    `older checkpoints deleted after the commit: ${checkpoints}`,
  );
  assert.match(checkpoints, /othertool\.1/, "another tool's checkpoint is left alone");
});

test('a destination changed since the last sync falls back to hashes, with the reason, and ends equal', async () => {
  await hostExec('hostb', ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x77 2M 64k', `${IMAGES}/lv1-data.qcow2`]);
  await hostWrite('hosta', 'lv1', { pattern: 0x44, offset: 5 * MiB, length: 64 * 1024 });
  const out = await kvmctl(['--json', 'sync', 'lv1', '--from', 'hosta', '--to', 'hostb', '--live'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  const result = out.result as { delta: string; deltaReason: string };
  assert.equal(result.delta, 'hash');
  assert.match(result.deltaReason, /changed since the last sync/);
  await compareImages('lv1-data.qcow2', 'lv1-data.qcow2');
});

test('checkpoint metadata lost: redefined from the saved XML, still the bitmap', async () => {
  const names = (await virsh('hosta', ['checkpoint-list', 'lv1', '--name']))
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('kvmclone.'));
  for (const n of names) await virsh('hosta', ['checkpoint-delete', 'lv1', n, '--metadata']);
  await hostWrite('hosta', 'lv1', { pattern: 0x45, offset: 9 * MiB, length: 64 * 1024 });
  const out = await kvmctl(['--json', 'sync', 'lv1', '--from', 'hosta', '--to', 'hostb', '--live'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  assert.equal((out.result as { delta: string }).delta, 'bitmap', JSON.stringify(out.result));
  await compareImages('lv1-data.qcow2', 'lv1-data.qcow2');
});

test('--cbt=off compares hashes and makes no checkpoint', async () => {
  await hostWrite('hosta', 'lv1', { pattern: 0x46, offset: 12 * MiB, length: 64 * 1024 });
  const out = await kvmctl(['--json', 'sync', 'lv1', '--from', 'hosta', '--to', 'hostb', '--live', '--cbt=off'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  const result = out.result as { delta: string; deltaReason: string; checkpoint: string };
  assert.equal(result.delta, 'hash');
  assert.match(result.deltaReason, /--cbt=off/);
  assert.equal(result.checkpoint, '');
  await compareImages('lv1-data.qcow2', 'lv1-data.qcow2');
});

test('clone --live of a guest that rewrites its disk in passes: the copy is one point in time (checker), the writer never stopped', async () => {
  await ensureLiveGuestBuilt();
  await makeLiveGuest('hosta', 'lw1', { vdbMb: 16 });
  await virsh('hosta', ['start', 'lw1']);
  try {
    await waitForPass('hosta', 'lw1', 2, 240_000);
    const out = await kvmctl(['--json', 'clone', 'lw1', '--from', 'hosta', '--to', 'hostb', '--live'], { stateDir: state });
    assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
    assert.match(await virsh('hosta', ['domstate', 'lw1']), /running/);
    const check = await checkPointInTime(join(hostImagesDir('hostb'), 'lw1-vdb.qcow2'), { allowTorn: true });
    assert.ok(check.ok, `the copy is one point in time: ${check.detail}`);
    await assertNoLeftovers('lw1');
    // The guest kept writing: a pass started after the clone.
    const after = await waitForPass('hosta', 'lw1', 3, 240_000);
    assert.ok(after.n >= 3);
  } finally {
    await virsh('hosta', ['destroy', 'lw1']).catch(() => undefined);
  }
  // The copy boots and its writer runs (its kernel and initramfs are not disks: put them on hostb).
  await runTestbed('live-guest.sh', ['install', 'hostb']);
  await virsh('hostb', ['start', 'lw1']);
  try {
    await waitForPass('hostb', 'lw1', 1, 240_000);
  } finally {
    await virsh('hostb', ['destroy', 'lw1']).catch(() => undefined);
  }
});

test('--quiesce=require without a guest agent is refused (exit 3), no job left', async () => {
  const out = await kvmctl(['--json', 'clone', 'lv1', '--from', 'hosta', '--to', 'hostb', '--name', 'lvq', '--live', '--quiesce=require'], { stateDir: state });
  assert.equal(out.code, 3, out.stdout);
  assert.match(JSON.stringify(out.result), /could not be frozen/);
  await assertNoLeftovers('lv1');
  assert.doesNotMatch(await virsh('hostb', ['list', '--all', '--name']), /lvq/);
});

test('a running destination is refused (exit 3)', async () => {
  await virsh('hostb', ['start', 'lv1']);
  try {
    const out = await kvmctl(['--json', 'sync', 'lv1', '--from', 'hosta', '--to', 'hostb', '--live'], { stateDir: state });
    assert.equal(out.code, 3, out.stdout);
  } finally {
    await virsh('hostb', ['destroy', 'lv1']);
  }
});

test('the source agent SIGKILLed while its view is open: after its restart no job and no scratch file, the source runs on its own images, the next sync completes', async () => {
  const blklist = await virsh('hosta', ['domblklist', 'lv1']);
  const agent = await forwardedAgent('hosta');
  const clients = agent.clients;
  try {
    const call = clients.transfer.openLiveView({
      vmName: 'lv1',
      operationId: 'killtest-0001',
      replicaId: '',
      cbt: false,
      quiesce: 'QUIESCE_OFF',
      incrementalFrom: '',
      incrementalFromXml: '',
    });
    call.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      call.once('data', () => resolve());
      call.once('error', reject);
    });
    assert.match(await virsh('hosta', ['domjobinfo', 'lv1']), /Job type:\s+Unbounded/, 'the backup job runs');
    assert.ok(
      (await readdir(hostImagesDir('hosta'))).some((n) => n.includes('kvmclone-scratch')),
      'its scratch file exists',
    );
    await hostAgent('hosta', 'kill');
  } finally {
    await agent.close();
  }
  await hostAgent('hosta', 'start');
  await assertNoLeftovers('lv1');
  assert.match(await virsh('hosta', ['domstate', 'lv1']), /running/);
  assert.equal(await virsh('hosta', ['domblklist', 'lv1']), blklist);
  await hostWrite('hosta', 'lv1', { pattern: 0x47, offset: 14 * MiB, length: 64 * 1024 });
  const out = await kvmctl(['--json', 'sync', 'lv1', '--from', 'hosta', '--to', 'hostb', '--live'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  await compareImages('lv1-data.qcow2', 'lv1-data.qcow2');
});

test('QEMU killed uncleanly and restarted: the next sync falls back to hashes with the reason, the one after uses the new chain', async () => {
  await hostWrite('hosta', 'lv1', { pattern: 0x48, offset: 20 * MiB, length: 64 * 1024 });
  let out = await kvmctl(['--json', 'sync', 'lv1', '--from', 'hosta', '--to', 'hostb', '--live'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  await hostExec('hosta', ['bash', '-c', 'kill -9 "$(cat /run/libvirt/qemu/lv1.pid)" && sleep 2']);
  await virsh('hosta', ['start', 'lv1']);
  await hostWrite('hosta', 'lv1', { pattern: 0x49, offset: 22 * MiB, length: 64 * 1024 });
  out = await kvmctl(['--json', 'sync', 'lv1', '--from', 'hosta', '--to', 'hostb', '--live'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  const fallback = out.result as { delta: string; deltaReason: string };
  assert.equal(fallback.delta, 'hash', JSON.stringify(out.result));
  assert.match(fallback.deltaReason, /inconsistent/);
  await compareImages('lv1-data.qcow2', 'lv1-data.qcow2');
  await hostWrite('hosta', 'lv1', { pattern: 0x4a, offset: 24 * MiB, length: 64 * 1024 });
  out = await kvmctl(['--json', 'sync', 'lv1', '--from', 'hosta', '--to', 'hostb', '--live'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  assert.equal((out.result as { delta: string }).delta, 'bitmap', JSON.stringify(out.result));
  await compareImages('lv1-data.qcow2', 'lv1-data.qcow2');
});

test('a raw data disk: copied from the point in time, synced by hashes (no bitmaps on raw), with the reason', async () => {
  await makeRunningVm('hosta', 'lr1', 'raw');
  let out = await kvmctl(['--json', 'clone', 'lr1', '--from', 'hosta', '--to', 'hostb', '--live'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  await compareImages('lr1-data.raw', 'lr1-data.raw', 'raw');
  await hostWrite('hosta', 'lr1', { pattern: 0x51, offset: 3 * MiB, length: 64 * 1024 });
  out = await kvmctl(['--json', 'sync', 'lr1', '--from', 'hosta', '--to', 'hostb', '--live'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  const result = out.result as { delta: string; deltaReason: string; disks: { target: string; delta: string }[] };
  assert.equal(result.disks.find((d) => d.target.endsWith('lr1-data.raw'))?.delta, 'hash');
  assert.match(result.deltaReason, /raw/);
  await compareImages('lr1-data.raw', 'lr1-data.raw', 'raw');
  await virsh('hosta', ['destroy', 'lr1']);
  // The copy boots: the boot sector on its vda prints HI on the serial port.
  await virsh('hostb', ['start', 'lr1']);
  try {
    const text = await serialOutput('hostb', 'lr1', 'HI', 200);
    assert.match(text, /HI/, 'the copy boots');
  } finally {
    await virsh('hostb', ['destroy', 'lr1']);
  }
});

test('too little room for the scratch files: refused before anything is written (exit 3), nothing left', async () => {
  await hostExec('hosta', ['bash', '-c', 'mkdir -p /var/lib/kvmclone-scratch && mount -t tmpfs -o size=1m tmpfs /var/lib/kvmclone-scratch']);
  const config = join(state, 'agent-small-scratch.yaml');
  // a config of its own replaces the host's /etc/kvmclone/agent.yaml: it keeps the socket group kvmctl's account needs
  await writeFile(config, `socket_group: ${SSH_ACCOUNT}\nlive:\n  scratch_dir: /var/lib/kvmclone-scratch\n`);
  // the agent as the other hosts run it (the installed package's when scripts/test installed it); a later --config wins
  const agentCmd = (extra: string): string => `exec ${agentCommand()}${extra}`;
  await testbedScript('host-agent.sh', ['hosta', 'restart'], { AGENT_CMD: agentCmd(` --config ${config}`) });
  try {
    const out = await kvmctl(['--json', 'clone', 'lv1', '--from', 'hosta', '--to', 'hostb', '--name', 'lv1s', '--live'], { stateDir: state });
    assert.equal(out.code, 3, out.stdout);
    assert.match(JSON.stringify(out.result), /too little room for the backup scratch files/);
    assert.doesNotMatch(await virsh('hostb', ['list', '--all', '--name']), /lv1s/);
    await assertNoLeftovers('lv1');
  } finally {
    await testbedScript('host-agent.sh', ['hosta', 'restart'], { AGENT_CMD: agentCmd('') });
    await hostExec('hosta', ['umount', '/var/lib/kvmclone-scratch']).catch(() => undefined);
  }
});

test('a disk on a backing chain is copied live as one standalone image; an offline sync of that copy is refused (exit 3) instead of breaking it', async () => {
  await hostExec('hosta', [
    'bash',
    '-c',
    [
      'set -e',
      `cd ${IMAGES}`,
      `qemu-img convert -q -f raw -O qcow2 ${TESTBED_DIR}boot-sector.bin lc1-base.qcow2 && qemu-img resize -q -f qcow2 lc1-base.qcow2 1M`,
      'qemu-img create -q -f qcow2 -b lc1-base.qcow2 -F qcow2 lc1.qcow2',
      `cat > /tmp/lc1.xml <<'XML'\n<domain type='qemu'><name>lc1</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${IMAGES}/lc1.qcow2'/><target dev='vda' bus='virtio'/></disk><video><model type='none'/></video><memballoon model='none'/></devices></domain>\nXML`,
      'virsh -q -c qemu:///system define /tmp/lc1.xml >/dev/null && rm -f /tmp/lc1.xml',
      'virsh -q -c qemu:///system start lc1 >/dev/null',
    ].join('\n'),
  ]);
  const out = await kvmctl(['--json', 'clone', 'lc1', '--from', 'hosta', '--to', 'hostb', '--live'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  assert.doesNotMatch(await hostExec('hostb', ['qemu-img', 'info', `${IMAGES}/lc1.qcow2`]), /backing file/, 'standalone on the destination');
  await compareImages('lc1.qcow2', 'lc1.qcow2');
  await virsh('hosta', ['destroy', 'lc1']);
  const sync = await kvmctl(['--json', 'sync', 'lc1', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.equal(sync.code, 3, sync.stdout);
  assert.match(JSON.stringify(sync.result), /standalone image .*sync it with --flatten \(or with --live/);
  await compareImages('lc1.qcow2', 'lc1.qcow2');
});
