/**
 * A live view closing while libvirtd restarts (found by the fault matrix,
 * scripts/bench faults: live sync, libvirtd-restart): the backup job outlives
 * the restart, so the view waits for libvirtd and ends it instead of leaving
 * it (and its scratch files) on the running guest; other failures, and an
 * outage longer than the bound, are reported at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBackupXml } from '../../agent/libvirt/backup-xml.js';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import { endViewJob } from '../../agent/live/end-view-job.js';
import { KvmcloneError } from '../../shared/errors.js';

const VM = `<domain type='kvm'><name>web</name><uuid>0b7e6c2e-9a3c-4d8e-8f1a-2b3c4d5e6f70</uuid><memory unit='MiB'>64</memory><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/img/vda.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;

async function withJob(): Promise<FakeLibvirt> {
  const fake = new FakeLibvirt();
  await fake.addDomain(VM, 'running');
  await fake.backupBegin(
    'web',
    buildBackupXml({ socket: '/run/kvmclone/live/backup-op.sock', incremental: '', disks: [{ target: 'vda', scratch: '/nonexistent/vda.qcow2' }] }),
    undefined,
  );
  return fake;
}

test('libvirtd unreachable when the view closes, back 250 ms later: the job is ended', async () => {
  const fake = await withJob();
  fake.unavailable = true;
  setTimeout(() => (fake.unavailable = false), 250);
  assert.equal(await endViewJob(fake, 'web', 5_000, 50), true);
  assert.equal(await fake.backupJob('web'), undefined, 'no job left');
});

test('libvirtd still unreachable after the bound: UNAVAILABLE, the job left for the next view or agent start', async () => {
  const fake = await withJob();
  fake.unavailable = true;
  const started = Date.now();
  await assert.rejects(endViewJob(fake, 'web', 300, 50), (err: unknown) => err instanceof KvmcloneError && err.code === 'UNAVAILABLE');
  assert.ok(Date.now() - started >= 200, 'it waited');
  fake.unavailable = false;
  assert.ok(await fake.backupJob('web'));
});

test('any other failure is not retried', async () => {
  const fake = new FakeLibvirt();
  const started = Date.now();
  await assert.rejects(endViewJob(fake, 'nosuchvm', 5_000, 50), (err: unknown) => err instanceof KvmcloneError && err.code === 'NOT_FOUND');
  assert.ok(Date.now() - started < 1_000, 'at once');
});
