/**
 * The running guests the live e2e tests copy: a TCG guest booting the
 * testbed's boot sector from a qcow2 vda, with a 64 MiB data disk (qcow2 v3,
 * which can hold dirty bitmaps, or raw, which cannot), and the checks those
 * tests make on what a live copy left.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hostExec, hostImagesDir, TESTBED_DIR, IMAGES } from './testbed.js';
import { defineLines, testDomainXml } from './test-domain.js';
import { virsh } from './host-inventory.js';

/** virsh on a testbed host, quiet, against the system libvirtd (host-inventory.ts). */
export { virsh } from './host-inventory.js';

/** A running guest (TCG): the boot sector on a qcow2 vda, and a 64 MiB qcow2 v3 vdb with 8 MiB of random data. */
export async function makeRunningVm(host: string, name: string, dataFormat: 'qcow2' | 'raw' = 'qcow2'): Promise<void> {
  const xml = testDomainXml(name, {
    disks: [
      { file: `${IMAGES}/${name}.qcow2`, format: 'qcow2', target: 'vda' },
      { file: `${IMAGES}/${name}-data.${dataFormat}`, format: dataFormat, target: 'vdb' },
    ],
    serialLog: true,
  });
  await hostExec(host, [
    'bash',
    '-c',
    [
      'set -e',
      `cd ${IMAGES}`,
      `qemu-img convert -q -f raw -O qcow2 ${TESTBED_DIR}boot-sector.bin ${name}.qcow2`,
      `qemu-img resize -q -f qcow2 ${name}.qcow2 1M`,
      `truncate -s 64M /tmp/${name}-data.raw`,
      `for i in 0 1 2 3 4 5 6 7; do dd if=/dev/urandom of=/tmp/${name}-data.raw bs=1M count=1 seek=$((i * 7)) conv=notrunc status=none; done`,
      dataFormat === 'qcow2'
        ? `qemu-img convert -q -f raw -O qcow2 -o compat=1.1 /tmp/${name}-data.raw ${name}-data.qcow2`
        : `cp --sparse=always /tmp/${name}-data.raw ${name}-data.raw`,
      `rm -f /tmp/${name}-data.raw`,
      ...defineLines(name, xml),
      `virsh -q -c qemu:///system start ${name} >/dev/null`,
    ].join('\n'),
  ]);
}

/** Compares from the root namespace, where both hosts' image directories are visible. */
export async function compareImages(srcImage: string, dstImage: string, format = 'qcow2'): Promise<void> {
  await promisify(execFile)('qemu-img', ['compare', '-U', '-f', format, '-F', format, join(hostImagesDir('hosta'), srcImage), join(hostImagesDir('hostb'), dstImage)]);
}

/** No backup job on the domain, no scratch file or socket left. */
export async function assertNoLeftovers(vm: string): Promise<void> {
  const job = await virsh('hosta', ['domjobinfo', vm]);
  assert.match(job, /Job type:\s+None/, `no job left on ${vm}: ${job}`);
  const names = await readdir(hostImagesDir('hosta'));
  assert.deepEqual(
    names.filter((n) => n.includes('kvmclone-scratch')),
    [],
    'no scratch file left',
  );
}
