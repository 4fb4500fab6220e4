/**
 * `scripts/bench compress`: what --compress does to a clone of a real
 * filesystem image, with and without a bandwidth limit. On the testbed, the
 * VM `cbench` on hosta has one sparse raw disk of G GiB (4) holding an ext4
 * filesystem made with `mkfs.ext4 -d` from a copy of /usr/share, /usr/bin,
 * /usr/include and /var/lib/dpkg of this machine (programs, libraries' data,
 * documentation, package lists: compressible and mixed, with real free
 * space). It is cloned hosta -> hostb with --compress off, zstd and auto at
 * full speed, then off and auto with --bwlimit 50M; each clone is compared
 * (cmp) and removed before the next. Figures per run: wall seconds, bytes on
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
import { E2E_DIR, hostAgent, hostDown, hostExec, hostUp } from '../support/testbed.js';
import { agentCpuSeconds, run, sh } from './bench-support.js';

const IMAGES = '/var/lib/libvirt/images';
const MiB = 2 ** 20;
const i = process.argv.indexOf('--size-gib');
const sizeGiB = i >= 0 ? Number(process.argv[i + 1]) || 4 : 4;
const SOURCES = ['/usr/share', '/usr/bin', '/usr/include', '/var/lib/dpkg'];

const xml = `<domain type='qemu'><name>cbench</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${IMAGES}/cbench.raw'/><target dev='vda' bus='virtio'/></disk><video><model type='none'/></video><memballoon model='none'/></devices></domain>`;

/** One clone's figures. */
interface CloneRun {
  compress: string;
  bwlimit: string | null;
  seconds: number;
  bytesOnWire: number;
  phases: Record<string, number>;
  agentCpuSeconds: { hosta: number; hostb: number };
}

async function cloneOnce(compress: string, bwlimit: string | null, state: string): Promise<CloneRun> {
  await Promise.all([hostAgent('hosta', 'restart'), hostAgent('hostb', 'restart')]);
  const args = ['--json', 'clone', 'cbench', '--from', 'hosta', '--to', 'hostb', '--compress', compress, ...(bwlimit ? ['--bwlimit', bwlimit] : [])];
  const t0 = Date.now();
  const out = await startKvmctl(args, { stateDir: state }).done;
  const seconds = (Date.now() - t0) / 1000;
  if (out.code !== 0) throw new Error(`clone exited ${out.code}: ${out.stdout.slice(-2000)}\n${out.stderr}`);
  const cpu = { hosta: await agentCpuSeconds('hosta'), hostb: await agentCpuSeconds('hostb') };
  await run('cmp', [join(E2E_DIR, 'hosta', 'images', 'cbench.raw'), join(E2E_DIR, 'hostb', 'images', 'cbench.raw')]);
  await hostExec('hostb', ['bash', '-c', `virsh -q -c qemu:///system undefine cbench >/dev/null && rm -f ${IMAGES}/cbench.raw`]);
  return { compress, bwlimit, seconds, bytesOnWire: Number(out.result?.bytesOnWire ?? 0), phases: (out.result?.phases ?? {}) as Record<string, number>, agentCpuSeconds: cpu };
}

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), 'kvmclone-compress-bench-'));
  const tree = await mkdtemp(join(tmpdir(), 'kvmclone-compress-tree-'));
  await Promise.all([hostDown('hosta'), hostDown('hostb')]);
  await hostUp('hosta', 1);
  await hostUp('hostb', 2);
  try {
    console.log(`making a ${sizeGiB} GiB raw image: ext4 made from a copy of ${SOURCES.join(', ')} ...`);
    for (const s of SOURCES) await sh(`mkdir -p ${tree}${s} && cp -a ${s}/. ${tree}${s}/`);
    const image = join(E2E_DIR, 'hosta', 'images', 'cbench.raw');
    await run('mkfs.ext4', ['-q', '-F', '-d', tree, image, `${sizeGiB}G`]);
    await rm(tree, { recursive: true, force: true });
    const dataBytes = (await stat(image)).blocks * 512;
    await hostExec('hosta', ['bash', '-c', `cat > /tmp/cbench.xml <<'XML'\n${xml}\nXML\nvirsh -q -c qemu:///system define /tmp/cbench.xml >/dev/null; rm -f /tmp/cbench.xml`]);
    await sh(`cat ${image} > /dev/null`);

    const runs: CloneRun[] = [];
    for (const [compress, bwlimit] of [['off', null], ['zstd', null], ['auto', null], ['off', '50M'], ['auto', '50M']] as const) {
      const r = await cloneOnce(compress, bwlimit, state);
      console.log(`--compress ${compress}${bwlimit ? ` --bwlimit ${bwlimit}` : ''}: ${r.seconds.toFixed(1)} s, ${(r.bytesOnWire / MiB).toFixed(0)} MiB on the wire`);
      runs.push(r);
    }
    const base = (bw: string | null): CloneRun | undefined => runs.find((r) => r.compress === 'off' && r.bwlimit === bw);
    console.log(`\n${sizeGiB} GiB raw disk, ext4 of ${SOURCES.join(' ')}: ${(dataBytes / MiB).toFixed(0)} MiB of data; page cache warm; 2 cores shared by both hosts and the controller`);
    console.log(`${'clone'.padEnd(30)}   wall      on the wire   wire/data   speed vs off   agent CPU-s (source / destination)`);
    for (const r of runs) {
      const vs = base(r.bwlimit);
      console.log(
        `${`--compress ${r.compress}${r.bwlimit ? ` --bwlimit ${r.bwlimit}` : ''}`.padEnd(30)} ${r.seconds.toFixed(1).padStart(6)} s ${(r.bytesOnWire / MiB).toFixed(0).padStart(8)} MiB ${(r.bytesOnWire / dataBytes).toFixed(2).padStart(9)}x ${vs ? (vs.seconds / r.seconds).toFixed(2).padStart(10) + 'x' : ''}   ${r.agentCpuSeconds.hosta.toFixed(1)} / ${r.agentCpuSeconds.hostb.toFixed(1)}`,
      );
    }
    const load = (await readFile('/proc/loadavg', 'utf8')).trim();
    await mkdir('bench-results', { recursive: true });
    const out = join('bench-results', `compress-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(out, JSON.stringify({ sizeGiB, sources: SOURCES, dataBytes, runs, loadavgAfter: load }, null, 2));
    console.log(`raw figures: ${out}`);
  } finally {
    await Promise.all([hostDown('hosta'), hostDown('hostb')]);
    await rm(state, { recursive: true, force: true });
    await rm(tree, { recursive: true, force: true });
  }
}

await main();
