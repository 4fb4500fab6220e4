/**
 * `scripts/bench sync`: kvmctl sync of a 10 GiB image (half of it data) with
 * 1 % of its 64 KiB blocks changed at scattered offsets, beside
 * `rsync --inplace --no-whole-file` over OpenSSH and `dd` reads of the source
 * and destination images, all in one run on the testbed. Two rounds: warm
 * (both images read once before each timed run) and cold (page cache dropped
 * before each timed run). Not a test: figures to compare.
 *
 *   node dist/test/bench/sync-bench.js [--size-gib N]
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { E2E_DIR, hostDown, hostExec, hostUp, sshConfigPath } from '../support/testbed.js';
import { agentPeakRss, IMAGE_WRITER, run, sh, timed, timedKvmctl } from './bench-support.js';
import { routeHosts } from '../support/testbed.js';

const IMAGES = '/var/lib/libvirt/images';
const BLOCK = 65536;
const sizeGiB = Number(process.argv[process.argv.indexOf('--size-gib') + 1] ?? '') || 10;
const CIPHER = 'aes128-gcm@openssh.com';

/** Overwrites 1 % of the 64 KiB blocks of `path` at scattered offsets (seeded); returns how many. */
const CHANGER = `
import os, sys, random
path, seed = sys.argv[1], int(sys.argv[2])
blocks = os.stat(path).st_size // 65536; rng = random.Random(seed)
picks = rng.sample(range(blocks), blocks // 100)
fd = os.open(path, os.O_WRONLY)
for b in picks: os.pwrite(fd, os.urandom(65536), b * 65536)
os.fsync(fd); os.close(fd); print(len(picks))
`;

const xml = (name: string, file: string): string =>
  `<domain type='kvm'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${IMAGES}/${file}'/><target dev='vda' bus='virtio'/></disk><video><model type='none'/></video><memballoon model='none'/></devices></domain>`;

async function define(host: string, name: string, file: string): Promise<void> {
  await hostExec(host, ['bash', '-c', `cat > /tmp/${name}.xml <<'XML'\n${xml(name, file)}\nXML\nvirsh -q -c qemu:///system define /tmp/${name}.xml >/dev/null; rm -f /tmp/${name}.xml`]);
}

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), 'kvmclone-sync-bench-'));
  await Promise.all([hostDown('hosta'), hostDown('hostb')]);
  await hostUp('hosta', 1);
  await hostUp('hostb', 2);
  const a = join(E2E_DIR, 'hosta', 'images', 'bench.raw');
  const b = join(E2E_DIR, 'hostb', 'images', 'bench.raw');
  const bRsync = join(E2E_DIR, 'hostb', 'images', 'bench-rsync.raw');
  try {
    console.log(`making a ${sizeGiB} GiB raw image with half of it data, and two identical copies on hostb ...`);
    await run('python3', ['-c', IMAGE_WRITER, a, String(sizeGiB)]);
    await run('cp', ['--sparse=always', a, b]);
    await run('cp', ['--sparse=always', a, bRsync]);
    await define('hosta', 'bench', 'bench.raw');
    await define('hostb', 'bench', 'bench.raw');
    const ssh = `ssh -F ${sshConfigPath()} -c ${CIPHER}`;
    const lines: string[] = [];
    for (const [round, seed] of [['warm', 1], ['cold', 2]] as const) {
      const changed = Number((await run('python3', ['-c', CHANGER, a, String(seed)])).stdout.trim());
      const changedBytes = changed * BLOCK;
      // Warm: the two images the next run reads are read once just before it (three 5 GiB copies do not
      // all fit in the page cache beside each other, so warming all of them would evict part of the first).
      const prepare = async (source: string, dest: string): Promise<void> => {
        if (round === 'cold') await sh('sync; echo 3 > /proc/sys/vm/drop_caches');
        else await sh(`cat ${source} > /dev/null; cat ${dest} > /dev/null`);
      };
      await prepare(a, b);
      const dd = await timed(() => sh(`dd if=${a} of=/dev/null bs=1M status=none; dd if=${b} of=/dev/null bs=1M status=none`));
      await prepare(a, b);
      const sync = await timedKvmctl(['sync', 'bench', '--from', 'hosta', '--to', 'hostb'], state);
      await prepare(a, bRsync);
      const unroute = await routeHosts();
      let rsync;
      try {
        // --ignore-times: a copy can share an mtime second with the changed source, and rsync's quick check would then skip it
        rsync = await timed(() => hostExec('hosta', ['rsync', '--inplace', '--no-whole-file', '--ignore-times', '-e', ssh, `${IMAGES}/bench.raw`, `hostb-root:${IMAGES}/bench-rsync.raw`]));
      } finally {
        await unroute();
      }
      await run('cmp', [a, b]);
      await run('cmp', [a, bRsync]);
      const wire = Number(sync.result.bytesOnWire);
      lines.push(
        `${round}: ${changed} blocks changed (${(changedBytes / 2 ** 20).toFixed(0)} MiB)\n` +
          `  kvmctl sync                       ${sync.seconds.toFixed(1).padStart(6)} s   ${(rsync.seconds / sync.seconds).toFixed(2)}x faster than rsync, ${(sync.seconds / dd.seconds).toFixed(2)}x the two dd reads, bytesOnWire ${(wire / changedBytes).toFixed(3)}x the changed bytes, controller peak RSS ${(sync.rss / 2 ** 20).toFixed(0)} MiB\n` +
          `  rsync --inplace --no-whole-file   ${rsync.seconds.toFixed(1).padStart(6)} s\n` +
          `  dd of source + destination        ${dd.seconds.toFixed(1).padStart(6)} s`,
      );
    }
    console.log(`\n${sizeGiB} GiB raw image, ${(((await stat(a)).blocks * 512) / 2 ** 30).toFixed(2)} GiB allocated; 2 cores shared by both hosts and the controller; both hosts on one disk`);
    for (const l of lines) console.log(l);
    console.log(`agent peak RSS: hosta ${((await agentPeakRss('hosta')) / 2 ** 20).toFixed(0)} MiB, hostb ${((await agentPeakRss('hostb')) / 2 ** 20).toFixed(0)} MiB`);
  } finally {
    await Promise.all([hostDown('hosta'), hostDown('hostb')]);
    await rm(state, { recursive: true, force: true });
  }
}

await main();
