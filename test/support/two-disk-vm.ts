/**
 * A VM worth cloning, made inside a testbed host: a qcow2 system disk on a
 * backing file (relative reference, as virt-manager writes them) that boots
 * the test boot sector, a sparse raw data disk with scattered random data,
 * and a user-mode network interface with a MAC.
 */
import { hostExec, TESTBED_DIR, IMAGES } from './testbed.js';
import { defineLines, testDomainXml } from './test-domain.js';

/**
 * Creates and defines VM `name` on `host`; `dataMiB` 1 MiB pieces of random data go into a `rawGiB` GiB data disk,
 * raw (`name`-data.raw) or, with `dataFormat: 'qcow2'`, converted to `name`-data.qcow2 (every disk qcow2: what
 * checkpoints and dirty bitmaps need).
 */
export async function makeTwoDiskVm(host: string, name: string, opts: { rawGiB: number; dataMiB: number; dataFormat?: 'raw' | 'qcow2' }): Promise<void> {
  const qcow2Data = opts.dataFormat === 'qcow2';
  const dataFile = `${name}-data.${qcow2Data ? 'qcow2' : 'raw'}`;
  // KVM where the machine has it; TCG otherwise (the boot sector runs under both).
  const xml = testDomainXml(name, {
    disks: [
      { file: `${IMAGES}/${name}.qcow2`, format: 'qcow2', target: 'vda' },
      { file: `${IMAGES}/${dataFile}`, format: qcow2Data ? 'qcow2' : 'raw', target: 'vdb' },
    ],
    devices: ["<interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>"],
    serialLog: true,
  });
  const script = [
    'set -e',
    `cd ${IMAGES}`,
    `qemu-img convert -q -f raw -O qcow2 ${TESTBED_DIR}boot-sector.bin ${name}-base.qcow2`,
    `qemu-img resize -q -f qcow2 ${name}-base.qcow2 1M`,
    `qemu-img create -q -f qcow2 -b ${name}-base.qcow2 -F qcow2 ${name}.qcow2`,
    `qemu-io -f qcow2 -c 'write -P 0x6b 512k 256k' ${name}.qcow2 >/dev/null`,
    `truncate -s ${opts.rawGiB}G ${name}-data.raw`,
    `for i in $(seq 0 $((${opts.dataMiB}-1))); do dd if=/dev/urandom of=${name}-data.raw bs=1M count=1 seek=$(( (i * 2654435761) % (${opts.rawGiB} * 1024 - 1) )) conv=notrunc status=none; done`,
    ...(qcow2Data ? [`qemu-img convert -q -f raw -O qcow2 ${name}-data.raw ${dataFile}`, `rm -f ${name}-data.raw`] : []),
    ...defineLines(name, xml),
  ].join('\n');
  await hostExec(host, ['bash', '-c', script]);
}
