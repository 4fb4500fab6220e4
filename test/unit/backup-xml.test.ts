import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backupSupportedIn,
  buildBackupXml,
  buildCheckpointXml,
  escapeXml,
  parseBackupXml,
  parseCheckpointList,
  parseCheckpointXml,
  parseDomainJobStats,
  validCheckpointName,
} from '../../agent/libvirt/backup-xml.js';
import { parseXml } from '../../shared/xml/parse-xml.js';
import { throwsInvalidArgument } from '../support/kvmclone-failure.js';

test('buildBackupXml: pull mode, unix socket, scratch per disk, skipped disks', () => {
  const xml = buildBackupXml({
    socket: '/run/kvmclone/live/backup-op1.sock',
    incremental: '',
    disks: [
      { target: 'vda', scratch: '/var/tmp/s.vda.qcow2' },
      { target: 'vdb', scratch: '/var/tmp/s.vdb.qcow2' },
    ],
    skip: ['vdc'],
  });
  assert.equal(
    xml,
    `<domainbackup mode='pull'>
  <server transport='unix' socket='/run/kvmclone/live/backup-op1.sock'/>
  <disks>
    <disk name='vda' backup='yes' type='file'>
      <driver type='qcow2'/>
      <scratch file='/var/tmp/s.vda.qcow2'/>
    </disk>
    <disk name='vdb' backup='yes' type='file'>
      <driver type='qcow2'/>
      <scratch file='/var/tmp/s.vdb.qcow2'/>
    </disk>
    <disk name='vdc' backup='no'/>
  </disks>
</domainbackup>
`,
  );
  const back = parseBackupXml(xml);
  assert.equal(back.mode, 'pull');
  assert.equal(back.incremental, '');
  assert.equal(back.socket, '/run/kvmclone/live/backup-op1.sock');
  assert.deepEqual(
    back.disks.map((d) => [d.target, d.backup, d.scratch]),
    [
      ['vda', true, '/var/tmp/s.vda.qcow2'],
      ['vdb', true, '/var/tmp/s.vdb.qcow2'],
      ['vdc', false, ''],
    ],
  );
});

test('buildBackupXml: incremental names the checkpoint', () => {
  const xml = buildBackupXml({ socket: '/s.sock', incremental: 'kvmclone.r1.3', disks: [{ target: 'vdb', scratch: '/x/s' }] });
  assert.match(xml, /<incremental>kvmclone\.r1\.3<\/incremental>/);
  assert.equal(parseBackupXml(xml).incremental, 'kvmclone.r1.3');
});

test('buildBackupXml: every value is escaped; a path cannot add markup', () => {
  const scratch = `/tmp/a'b"c<d>&e.qcow2`;
  const socket = `/tmp/x' evil='1.sock`;
  const xml = buildBackupXml({ socket, incremental: '', disks: [{ target: 'vda', scratch }] });
  const root = parseXml(xml);
  assert.deepEqual(Object.keys(root.children[0]?.attributes ?? {}).sort(), ['socket', 'transport']);
  const parsed = parseBackupXml(xml);
  assert.equal(parsed.socket, socket);
  assert.equal(parsed.disks[0]?.scratch, scratch);
});

test('buildBackupXml refuses bad names, relative or long paths, duplicates and an empty job', () => {
  const ok = { socket: '/s.sock', incremental: '', disks: [{ target: 'vda', scratch: '/s' }] };
  throwsInvalidArgument(() => buildBackupXml({ ...ok, socket: 'relative.sock' }), /backup socket: .* is not an absolute path/);
  throwsInvalidArgument(() => buildBackupXml({ ...ok, socket: `/${'x'.repeat(107)}` }), /longer than 107 bytes/);
  buildBackupXml({ ...ok, socket: `/${'x'.repeat(106)}` });
  throwsInvalidArgument(() => buildBackupXml({ ...ok, disks: [{ target: 'vda', scratch: 'scratch' }] }), /scratch file of vda/);
  throwsInvalidArgument(() => buildBackupXml({ ...ok, disks: [{ target: 'vda', scratch: '/a\nb' }] }), /not an absolute path/);
  throwsInvalidArgument(() => buildBackupXml({ ...ok, disks: [{ target: "vda' x='", scratch: '/s' }] }), /not a disk target/);
  throwsInvalidArgument(() => buildBackupXml({ ...ok, disks: [] }), /no disk to export/);
  throwsInvalidArgument(() => buildBackupXml({ ...ok, skip: ['vda'] }), /vda is named twice/);
  throwsInvalidArgument(() => buildBackupXml({ ...ok, incremental: '../x' }), /incremental checkpoint: .* is not a checkpoint name/);
  throwsInvalidArgument(() => buildBackupXml({ ...ok, incremental: '--children' }), /not a checkpoint name/);
});

test('buildCheckpointXml: name, description, bitmap or no per disk', () => {
  const xml = buildCheckpointXml({
    name: 'kvmclone.r1.1',
    description: 'kvmclone <replica> & "more"',
    disks: [
      { target: 'vda', bitmap: true },
      { target: 'vdc', bitmap: false },
    ],
  });
  assert.equal(
    xml,
    `<domaincheckpoint>
  <name>kvmclone.r1.1</name>
  <description>kvmclone &lt;replica&gt; &amp; &quot;more&quot;</description>
  <disks>
    <disk name='vda' checkpoint='bitmap'/>
    <disk name='vdc' checkpoint='no'/>
  </disks>
</domaincheckpoint>
`,
  );
  const back = parseCheckpointXml(xml);
  assert.equal(back.name, 'kvmclone.r1.1');
  assert.equal(back.description, 'kvmclone <replica> & "more"');
  assert.deepEqual(
    back.disks.map((d) => [d.target, d.tracked]),
    [
      ['vda', true],
      ['vdc', false],
    ],
  );
  assert.doesNotMatch(buildCheckpointXml({ name: 'c1', disks: [{ target: 'vda', bitmap: true }] }), /description/);
});

test('buildCheckpointXml refuses bad names, control characters and a checkpoint without a tracked disk', () => {
  for (const name of ['', '.hidden', 'a/b', 'a b', '-x', 'x\n', 'é', 'x'.repeat(201)]) {
    throwsInvalidArgument(() => buildCheckpointXml({ name, disks: [{ target: 'vda', bitmap: true }] }), /not a checkpoint name/);
  }
  throwsInvalidArgument(() => buildCheckpointXml({ name: 'c', description: 'bell\u0007', disks: [{ target: 'vda', bitmap: true }] }), /characters XML cannot carry/);
  throwsInvalidArgument(() => buildCheckpointXml({ name: 'c', disks: [{ target: 'vda', bitmap: false }] }), /no disk to track/);
  throwsInvalidArgument(
    () =>
      buildCheckpointXml({
        name: 'c',
        disks: [
          { target: 'vda', bitmap: true },
          { target: 'vda', bitmap: false },
        ],
      }),
    /named twice/,
  );
  assert.equal(validCheckpointName('kvmclone.abcdefgh-1.12'), 'kvmclone.abcdefgh-1.12');
  assert.equal(validCheckpointName('_x.y-z'), '_x.y-z');
});

test('escapeXml escapes the five characters and refuses what XML cannot carry', () => {
  assert.equal(escapeXml(`a&b<c>d"e'f`), 'a&amp;b&lt;c&gt;d&quot;e&apos;f');
  assert.equal(escapeXml('tab\tnew\nline'), 'tab\tnew\nline');
  throwsInvalidArgument(() => escapeXml('nul\u0000'), /characters XML cannot carry/);
});

// As libvirt 9.0 printed it (virsh backup-dumpxml) for an incremental pull-mode job.
const DUMPED_BACKUP = `<domainbackup mode='pull'>
  <incremental>kvmclone.t1.1</incremental>
  <server transport='unix' socket='/tmp/lvx/nbd.sock'/>
  <disks>
    <disk name='vda' backup='no'/>
    <disk name='vdb' backup='yes' type='file' backupmode='incremental' incremental='kvmclone.t1.1' exportname='vdb' exportbitmap='backup-vdb' index='5'>
      <driver type='qcow2'/>
      <scratch file='/tmp/lvx/scratch/vdb.scratch'/>
    </disk>
    <disk name='vdc' backup='no'/>
  </disks>
</domainbackup>
`;

test('parseBackupXml reads libvirt 9.0 backup-dumpxml', () => {
  assert.deepEqual(parseBackupXml(DUMPED_BACKUP), {
    mode: 'pull',
    incremental: 'kvmclone.t1.1',
    socket: '/tmp/lvx/nbd.sock',
    disks: [
      { target: 'vda', backup: false, mode: '', incremental: '', exportName: '', exportBitmap: '', scratch: '' },
      { target: 'vdb', backup: true, mode: 'incremental', incremental: 'kvmclone.t1.1', exportName: 'vdb', exportBitmap: 'backup-vdb', scratch: '/tmp/lvx/scratch/vdb.scratch' },
      { target: 'vdc', backup: false, mode: '', incremental: '', exportName: '', exportBitmap: '', scratch: '' },
    ],
  });
  const tcp = parseBackupXml(
    `<domainbackup mode='pull'><server name='localhost' port='10809'/><disks><disk name='vda' backup='yes' type='block' backupmode='full' exportname='vda'><scratch dev='/dev/vg/s'/></disk></disks></domainbackup>`,
  );
  assert.equal(tcp.socket, '');
  assert.equal(tcp.disks[0]?.scratch, '/dev/vg/s');
  assert.equal(parseBackupXml('<domainbackup/>').mode, 'push');
  throwsInvalidArgument(() => parseBackupXml('<domaincheckpoint/>'), /root element is <domaincheckpoint>, not <domainbackup>/);
  throwsInvalidArgument(() => parseBackupXml('<!DOCTYPE x [<!ENTITY a "b">]><domainbackup/>'), /DOCTYPE is not allowed/);
});

// As libvirt 9.0 printed it (virsh checkpoint-dumpxml --size), <domain> included.
const DUMPED_CHECKPOINT = `<domaincheckpoint>
  <name>kvmclone.t1.2</name>
  <description>second</description>
  <parent>
    <name>kvmclone.t1.1</name>
  </parent>
  <creationTime>1796191682</creationTime>
  <disks>
    <disk name='vda' checkpoint='no'/>
    <disk name='vdb' checkpoint='bitmap' bitmap='kvmclone.t1.2' size='131072'/>
    <disk name='vdc' checkpoint='no'/>
  </disks>
  <domain type='qemu'>
    <name>bk1</name>
    <devices><disk type='file' device='disk'><source file='/x/vdb.qcow2'/><target dev='vdb' bus='virtio'/></disk></devices>
  </domain>
</domaincheckpoint>
`;

test('parseCheckpointXml reads libvirt 9.0 checkpoint-dumpxml, with and without sizes', () => {
  assert.deepEqual(parseCheckpointXml(DUMPED_CHECKPOINT), {
    name: 'kvmclone.t1.2',
    description: 'second',
    parent: 'kvmclone.t1.1',
    creationTime: 1796191682,
    disks: [
      { target: 'vda', tracked: false, bitmap: '', sizeBytes: undefined },
      { target: 'vdb', tracked: true, bitmap: 'kvmclone.t1.2', sizeBytes: 131072 },
      { target: 'vdc', tracked: false, bitmap: '', sizeBytes: undefined },
    ],
  });
  // a root, and a broken bitmap: libvirt then prints no size
  const root = parseCheckpointXml(
    `<domaincheckpoint><name>c1</name><creationTime>5</creationTime><disks><disk name='vdb' checkpoint='bitmap' bitmap='c1'/></disks></domaincheckpoint>`,
  );
  assert.equal(root.parent, '');
  assert.equal(root.disks[0]?.sizeBytes, undefined);
  throwsInvalidArgument(() => parseCheckpointXml('<domaincheckpoint><description>x</description></domaincheckpoint>'), /<name> is missing/);
  throwsInvalidArgument(() => parseCheckpointXml(`<domaincheckpoint><name>c</name><disks><disk name='vda' size='-1'/></disks></domaincheckpoint>`), /size of disk vda/);
  throwsInvalidArgument(() => parseCheckpointXml('<domaincheckpoint><name>c</name>'), /not well-formed/);
});

test('parseCheckpointList reads checkpoint-list --parent in any time zone', () => {
  const utc = ' kvmclone.t1.1   2026-12-02 06:06:47 +0000   \n kvmclone.t1.2   2026-12-02 06:08:02 +0000   kvmclone.t1.1\n\n';
  assert.deepEqual(parseCheckpointList(utc), [
    { name: 'kvmclone.t1.1', parent: '', creationTime: Date.UTC(2026, 11, 2, 6, 6, 47) / 1000 },
    { name: 'kvmclone.t1.2', parent: 'kvmclone.t1.1', creationTime: Date.UTC(2026, 11, 2, 6, 8, 2) / 1000 },
  ]);
  const newYork = ' kvmclone.t1.2   2026-12-02 01:08:02 -0500   kvmclone.t1.1\n';
  assert.equal(parseCheckpointList(newYork)[0]?.creationTime, Date.UTC(2026, 11, 2, 6, 8, 2) / 1000);
  assert.deepEqual(parseCheckpointList(''), []);
  assert.throws(() => parseCheckpointList(' Name   Creation Time   Parent\n'), /unexpected line/);
});

test('parseDomainJobStats reads domjobinfo --rawstats', () => {
  assert.equal(parseDomainJobStats('Job type: 0\n\n'), undefined);
  assert.deepEqual(parseDomainJobStats('Job type: 2\n\noperation: 9\ntime_elapsed: 64046\ndisk_temp_used: 131072\ndisk_temp_total: 67108864\n'), {
    type: 'unbounded',
    operation: 'backup',
    elapsedMs: 64046,
    tempUsedBytes: 131072,
    tempTotalBytes: 67108864,
  });
  const migration = parseDomainJobStats('Job type: 1\n\noperation: 5\ntime_elapsed: 10\ndata_total: 100\n');
  assert.deepEqual([migration?.type, migration?.operation, migration?.tempUsedBytes], ['bounded', 'migration-out', undefined]);
  assert.throws(() => parseDomainJobStats('error'), /unexpected virsh domjobinfo output/);
});

test('backupSupportedIn reads <backup supported> of domain capabilities', () => {
  const caps = (v: string): string =>
    `<domainCapabilities><path>/usr/bin/qemu-system-x86_64</path><features><gic supported='no'/><backup supported='${v}'/></features></domainCapabilities>`;
  assert.equal(backupSupportedIn(caps('yes')), true);
  assert.equal(backupSupportedIn(caps('no')), false);
  assert.equal(backupSupportedIn('<domainCapabilities><features/></domainCapabilities>'), false);
  assert.equal(backupSupportedIn(''), false);
});
