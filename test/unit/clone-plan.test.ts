import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planFiles, spaceNeeded, targetFileName, type SourceDisk } from '../../controller/operations/clone/clone-plan.js';

const IMG = '/var/lib/libvirt/images';
const disks: SourceDisk[] = [
  {
    target: 'vda',
    device: 'disk',
    path: `${IMG}/web.qcow2`,
    format: 'qcow2',
    virtualSize: 10 << 30,
    allocatedSize: 100 << 20,
    backingReference: 'web-base.qcow2',
    backingChain: [{ path: `${IMG}/web-base.qcow2`, format: 'qcow2', virtualSize: 10 << 30, allocatedSize: 900 << 20, backingReference: '' }],
  },
  { target: 'vdb', device: 'disk', path: `${IMG}/data.raw`, format: 'raw', virtualSize: 4 << 30, allocatedSize: 50 << 20, backingReference: '', backingChain: [] },
  { target: 'sda', device: 'cdrom', path: '/isos/install.iso', format: 'raw', virtualSize: 1 << 30, allocatedSize: 1 << 30, backingReference: '', backingChain: [] },
];

test('file names: the VM name is replaced, else the new name is prefixed, else unchanged', () => {
  assert.equal(targetFileName(`${IMG}/web.qcow2`, 'web', 'web2'), 'web2.qcow2');
  assert.equal(targetFileName(`${IMG}/data.raw`, 'web', 'web2'), 'web2-data.raw');
  assert.equal(targetFileName(`${IMG}/web.qcow2`, 'web', 'web'), 'web.qcow2');
});

test('cross-host: disks and backing files are copied; cdroms are not; relative backing refs need no rebase', () => {
  const files = planFiles({ vm: 'web', destVm: 'web2', sameHost: false, disks, nvramPath: '' });
  assert.deepEqual(
    files.map((f) => [f.role, f.label, f.targetPath, f.action, f.rebase?.backingPath]),
    [
      ['disk', 'vda', `${IMG}/web2.qcow2`, 'copy', undefined],
      ['backing', 'vda backing', `${IMG}/web-base.qcow2`, 'copy', undefined],
      ['disk', 'vdb', `${IMG}/web2-data.raw`, 'copy', undefined],
    ],
  );
});

test('same host: backing files are reused in place', () => {
  const files = planFiles({ vm: 'web', destVm: 'web2', sameHost: true, disks, nvramPath: '' });
  const backing = files.find((f) => f.role === 'backing');
  assert.equal(backing?.action, 'reuse');
  assert.equal(backing?.targetPath, `${IMG}/web-base.qcow2`);
  assert.equal(files.find((f) => f.label === 'vda')?.rebase, undefined);
});

test('a target directory moves everything and rebases a copy whose reference would miss its base', () => {
  const absolute = [{ ...disks[0], backingReference: `${IMG}/web-base.qcow2` }];
  const files = planFiles({ vm: 'web', destVm: 'web', sameHost: false, targetDir: '/srv/vms', disks: absolute, nvramPath: `/var/lib/libvirt/qemu/nvram/web_VARS.fd` });
  assert.equal(files[0]?.targetPath, '/srv/vms/web.qcow2');
  assert.deepEqual(files[0]?.rebase, { backingPath: '/srv/vms/web-base.qcow2', backingFormat: 'qcow2' });
  const nvram = files.find((f) => f.role === 'nvram');
  assert.equal(nvram?.targetPath, '/var/lib/libvirt/qemu/nvram/web_VARS.fd');
  const relative = planFiles({ vm: 'web', destVm: 'web', sameHost: false, targetDir: '/srv/vms', disks: [disks[0]], nvramPath: '' });
  assert.equal(relative[0]?.rebase, undefined, 'a relative reference follows its base into the new directory');
});

test('space: allocated sizes of copied files plus 15 % per directory', () => {
  const files = planFiles({ vm: 'web', destVm: 'web2', sameHost: false, disks, nvramPath: '' });
  assert.deepEqual([...spaceNeeded(files)], [[IMG, Math.ceil((100 + 900 + 50) * 1.15 * (1 << 20))]]);
  assert.deepEqual([...spaceNeeded(planFiles({ vm: 'web', destVm: 'web2', sameHost: true, disks, nvramPath: '' }))], [[IMG, Math.ceil((100 + 50) * 1.15 * (1 << 20))]]);
});
