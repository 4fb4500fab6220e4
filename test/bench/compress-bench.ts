/**
 * `scripts/bench compress`: what --compress does to a clone of a real
 * filesystem image, with and without a bandwidth limit. On the testbed, the
 * VM `cbench` on hosta has one sparse raw disk of G GiB (4) holding an ext4
 * filesystem made with `mkfs.ext4 -d` from a copy of /usr/share, /usr/bin,
 * /usr/include and /var/lib/dpkg of this machine (programs, libraries' data,
 * documentation, package lists: compressible and mixed, with real free
 * space). It is cloned hosta -> hostb with --compress off, zstd and auto at
 * full speed, then off and auto with --bwlimit 50M; then the VM `crand`, a
 * raw disk of 2 GiB holding 1 GiB of unique random data, with off and auto
 * (what auto costs where nothing compresses). Each clone is compared (cmp)
 * and removed before the next. Figures per run: wall seconds, bytes on
 * the wire, the image's data (allocated bytes) and wire / data, and the
 * agents' CPU seconds. Prints a table and writes the raw figures to
 * bench-results/compress-<date>.json. Not a test: figures to compare.
 *
 *   node dist/test/bench/compress-bench.js [--size-gib G]
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKvmctl } from '../support/kvmctl.js';
import { defineBenchVm, startHosts, stopHosts } from './bench-vm.js';
import { E2E_DIR, hostAgent, hostExec, IMAGES } from '../support/testbed.js';
import { agentCpuSeconds, run, sh } from './bench-support.js';
import { EXT4_SOURCES, makeDataSet } from './bench-data.js';
import { flagsOrUsage, numberFlag, parseBenchFlags } from './bench-flags.js';

const MiB = 2 ** 20;
const sizeGiB = flagsOrUsage('usage: compress-bench [--size-gib G]', () =>
  numberFlag('size-gib', parseBenchFlags({ 'size-gib': '4' }, process.argv.slice(2))['size-gib'], { min: 1, integer: true }),
);
/** 1 GiB of unique random data (os.urandom per MiB) in the first half of a 2 GiB sparse file. */
const RANDOM_WRITER = `
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600); os.ftruncate(fd, 2 << 30)
for i in range(1024): os.pwrite(fd, os.urandom(1 << 20), i << 20)
os.fsync(fd); os.close(fd)
`;

/** One clone's figures. */
interface CloneRun {
  vm: string;
  compress: string;
  bwlimit: string | null;
  seconds: number;
  bytesOnWire: number;
  /** The plain data those carried (kvmctl's result). */
  bytesData: number;
  phases: Record<string, number>;
  agentCpuSeconds: { hosta: number; hostb: number };
}

async function cloneOnce(vm: string, compress: string, bwlimit: string | null, state: string): Promise<CloneRun> {
  await Promise.all([hostAgent('hosta', 'restart'), hostAgent('hostb', 'restart')]);
  const args = ['--json', 'clone', vm, '--from', 'hosta', '--to', 'hostb', '--compress', compress, ...(bwlimit ? ['--bwlimit', bwlimit] : [])];
  const t0 = Date.now();
  const out = await startKvmctl(args, { stateDir: state }).done;
  const seconds = (Date.now() - t0) / 1000;
  if (out.code !== 0) throw new Error(`clone exited ${out.code}: ${out.stdout.slice(-2000)}\n${out.stderr}`);
  const cpu = { hosta: await agentCpuSeconds('hosta'), hostb: await agentCpuSeconds('hostb') };
  await run('cmp', [join(E2E_DIR, 'hosta', 'images', `${vm}.raw`), join(E2E_DIR, 'hostb', 'images', `${vm}.raw`)]);
  await hostExec('hostb', ['bash', '-c', `virsh -q -c qemu:///system undefine ${vm} >/dev/null && rm -f ${IMAGES}/${vm}.raw`]);
  return {
    vm,
    compress,
    bwlimit,
    seconds,
    bytesOnWire: Number(out.result?.bytesOnWire ?? 0),
    bytesData: Number(out.result?.bytesData ?? 0),
    phases: (out.result?.phases ?? {}) as Record<string, number>,
    agentCpuSeconds: cpu,
  };
}

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), 'kvmclone-compress-bench-'));
  await startHosts();
  try {
    console.log(`making a ${sizeGiB} GiB raw image: ext4 made from a copy of ${EXT4_SOURCES.join(', ')} ...`);
    const image = join(E2E_DIR, 'hosta', 'images', 'cbench.raw');
    await makeDataSet('ext4', image, sizeGiB);
    const dataBytes = (await stat(image)).blocks * 512;
    const random = join(E2E_DIR, 'hosta', 'images', 'crand.raw');
    await run('python3', ['-c', RANDOM_WRITER, random]);
    for (const vm of ['cbench', 'crand']) {
      await defineBenchVm('hosta', vm);
    }
    const randomBytes = (await stat(random)).blocks * 512;
    await sh(`cat ${image} ${random} > /dev/null`);

    const runs: CloneRun[] = [];
    for (const [vm, compress, bwlimit] of [
      ['cbench', 'off', null],
      ['cbench', 'zstd', null],
      ['cbench', 'auto', null],
      ['cbench', 'off', '50M'],
      ['cbench', 'auto', '50M'],
      ['crand', 'off', null],
      ['crand', 'auto', null],
    ] as const) {
      const r = await cloneOnce(vm, compress, bwlimit, state);
      console.log(`${vm} --compress ${compress}${bwlimit ? ` --bwlimit ${bwlimit}` : ''}: ${r.seconds.toFixed(1)} s, ${(r.bytesOnWire / MiB).toFixed(0)} MiB on the wire`);
      runs.push(r);
    }
    const base = (r: CloneRun): CloneRun | undefined => runs.find((b) => b.vm === r.vm && b.compress === 'off' && b.bwlimit === r.bwlimit);
    const data = (r: CloneRun): number => (r.vm === 'crand' ? randomBytes : dataBytes);
    console.log(
      `\ncbench: ${sizeGiB} GiB raw disk, ext4 of ${EXT4_SOURCES.join(' ')}: ${(dataBytes / MiB).toFixed(0)} MiB of data; crand: 2 GiB raw, ${(randomBytes / MiB).toFixed(0)} MiB of unique random data; page cache warm; 2 cores shared by both hosts and the controller`,
    );
    console.log(`${'clone'.padEnd(37)}   wall      on the wire   wire/data   speed vs off   agent CPU-s (source / destination)`);
    for (const r of runs) {
      const vs = base(r);
      console.log(
        `${`${r.vm} --compress ${r.compress}${r.bwlimit ? ` --bwlimit ${r.bwlimit}` : ''}`.padEnd(37)} ${r.seconds.toFixed(1).padStart(6)} s ${(r.bytesOnWire / MiB).toFixed(0).padStart(8)} MiB ${(r.bytesOnWire / data(r)).toFixed(2).padStart(9)}x ${vs ? (vs.seconds / r.seconds).toFixed(2).padStart(10) + 'x' : ''}   ${r.agentCpuSeconds.hosta.toFixed(1)} / ${r.agentCpuSeconds.hostb.toFixed(1)}`,
      );
    }
    const load = (await readFile('/proc/loadavg', 'utf8')).trim();
    await mkdir('bench-results', { recursive: true });
    const out = join('bench-results', `compress-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(out, JSON.stringify({ sizeGiB, sources: EXT4_SOURCES, dataBytes, randomBytes, runs, loadavgAfter: load }, null, 2));
    console.log(`raw figures: ${out}`);
  } finally {
    await stopHosts();
    await rm(state, { recursive: true, force: true });
  }
}

await main();
