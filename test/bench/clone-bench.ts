/**
 * `scripts/bench clone`: kvmctl clone of a 10 GiB raw image (half holes, half
 * scattered data) from host A to host B on the testbed, beside two baselines
 * measured in the same run:
 * - `rsync --sparse --whole-file` over OpenSSH (aes128-gcm) from A to B;
 * - the raw OpenSSH relay channel: the allocated bytes streamed from A
 *   through this machine to B (`ssh A <read data> | ssh B 'cat > /dev/null'`).
 * Prints seconds, throughput and ratios for each SSH engine, and the peak RSS
 * of the agents and the controller. Not a test: figures to compare.
 *
 *   node dist/test/bench/clone-bench.js [--size-gib N]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { E2E_DIR, hostDown, hostExec, hostUp, sshConfigPath } from '../support/testbed.js';
import { agentPeakRss, IMAGE_WRITER, routeHosts, run, sh, timed, timedKvmctl } from './bench-support.js';

const IMAGES = '/var/lib/libvirt/images';
const GiB = 1024 ** 3;
const sizeGiB = Number(process.argv[process.argv.indexOf('--size-gib') + 1] ?? '') || 10;
const CIPHER = 'aes128-gcm@openssh.com';

/** Reads only the allocated (data) extents of a file to stdout: the bytes any tool must move. */
const DATA_READER = `
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY); end = os.fstat(fd).st_size; pos = 0; out = sys.stdout.buffer
while pos < end:
    try: pos = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError: break
    hole = os.lseek(fd, pos, os.SEEK_HOLE)
    while pos < hole:
        chunk = os.pread(fd, min(4 << 20, hole - pos), pos); out.write(chunk); pos += len(chunk)
`;

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), 'kvmclone-bench-'));
  await Promise.all([hostDown('hosta'), hostDown('hostb')]);
  await hostUp('hosta', 1);
  await hostUp('hostb', 2);
  try {
    const image = `${IMAGES}/bench.raw`;
    const local = join(E2E_DIR, 'hosta', 'images', 'bench.raw');
    console.log(`making a ${sizeGiB} GiB raw image on hosta with half of it data ...`);
    await run('python3', ['-c', IMAGE_WRITER, local, String(sizeGiB)]);
    const xml = `<domain type='kvm'><name>bench</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${image}'/><target dev='vda' bus='virtio'/></disk><video><model type='none'/></video><memballoon model='none'/></devices></domain>`;
    await hostExec('hosta', ['bash', '-c', `cat > /tmp/bench.xml <<'XML'\n${xml}\nXML\nvirsh -q -c qemu:///system define /tmp/bench.xml >/dev/null; rm -f /tmp/bench.xml`]);
    const dataBytes = Number((await run('du', ['-B1', local])).stdout.split('\t')[0]);
    await sh(`cat ${local} > /dev/null`);
    const ssh = `ssh -F ${sshConfigPath()} -c ${CIPHER}`;

    const reader = join(state, 'data-reader.py'); // /tmp is shared with the simulated hosts
    await writeFile(reader, DATA_READER);
    const relay = await timed(() => sh(`${ssh} hosta-root python3 ${reader} ${image} | ${ssh} hostb-root 'cat > /dev/null'`));
    console.log(`relay   ${relay.seconds.toFixed(1)} s`);

    const unroute = await routeHosts();
    let rsync;
    try {
      rsync = await timed(() => hostExec('hosta', ['rsync', '--sparse', '--whole-file', '-e', `ssh -F ${sshConfigPath()} -c ${CIPHER}`, image, `hostb-root:${IMAGES}/bench-rsync.raw`]));
    } finally {
      await unroute();
    }
    await hostExec('hostb', ['rm', '-f', `${IMAGES}/bench-rsync.raw`]);
    console.log(`rsync   ${rsync.seconds.toFixed(1)} s`);

    const rows: string[] = [];
    const line = (name: string, seconds: number, extra = ''): string =>
      `${name.padEnd(34)} ${seconds.toFixed(1).padStart(7)} s ${((dataBytes / 1e6) / seconds).toFixed(0).padStart(6)} MB/s${extra}`;
    rows.push(line('rsync --sparse --whole-file (A->B)', rsync.seconds));
    rows.push(line('OpenSSH relay A->controller->B', relay.seconds));
    for (const engine of ['openssh', 'ssh2'] as const) {
      const run1 = await timedKvmctl(['--engine', engine, 'clone', 'bench', '--from', 'hosta', '--to', 'hostb', '--name', `bench-${engine}`], state);
      const clone = { seconds: run1.seconds, bytesOnWire: Number(run1.result.bytesOnWire ?? 0), rss: run1.rss };
      await hostExec('hostb', ['virsh', '-q', '-c', 'qemu:///system', 'undefine', `bench-${engine}`, '--remove-all-storage']);
      rows.push(
        line(
          `kvmctl clone (${engine})`,
          clone.seconds,
          `  ${(rsync.seconds / clone.seconds).toFixed(2)}x faster than rsync, ${(relay.seconds / clone.seconds).toFixed(2)}x the relay throughput, ${(clone.bytesOnWire / 1e6).toFixed(0)} MB on the wire, controller peak RSS ${(clone.rss / 2 ** 20).toFixed(0)} MiB`,
        ),
      );
    }
    console.log(`\n${sizeGiB} GiB raw image, ${(dataBytes / GiB).toFixed(2)} GiB allocated, page cache warm, 2 cores shared by both hosts and the controller`);
    for (const r of rows) console.log(r);
    console.log(`agent peak RSS: hosta ${((await agentPeakRss('hosta')) / 2 ** 20).toFixed(0)} MiB, hostb ${((await agentPeakRss('hostb')) / 2 ** 20).toFixed(0)} MiB`);
  } finally {
    await Promise.all([hostDown('hosta'), hostDown('hostb')]);
    await rm(state, { recursive: true, force: true });
  }
}

await main();
