/**
 * `scripts/bench sync`: kvmctl sync of a sparse raw disk (--size-gib, 4)
 * whose copy on hostb is one change behind: 1 % of its 64 KiB blocks
 * rewritten with fresh random bytes at scattered (seeded) offsets. Beside it,
 * in the same run on the testbed:
 * - `rsync --inplace --no-whole-file --ignore-times -e 'ssh -c
 *   aes128-gcm@openssh.com'` run on hosta against its own copy on hostb (the
 *   delta transfer a careful user would pick, the cipher kvmctl uses);
 * - `dd` reads of the source and the destination image: what any tool that
 *   compares both must read, for the cold round.
 * kvmctl runs on this machine (two SSH hops) and on hosta (one hop: hosta is
 * itself). Each run of a tool gets a change of its own (rsync's copy gets
 * every change too), warm (both images read just before) and cold (page
 * cache dropped before). Data sets: unique (half the disk unique random
 * data in 64 MiB runs, bench-support.ts IMAGE_WRITER) and ext4 (mkfs.ext4 -d
 * of this machine's /usr/share, /usr/bin, /usr/include, /var/lib/dpkg).
 * --runs N (3) rounds; median and range; raw figures to
 * bench-results/sync-<date>.json.
 *
 *   node dist/test/bench/sync-bench.js [--size-gib G] [--runs N] [--data unique,ext4]
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKvmctl } from '../support/kvmctl.js';
import { E2E_DIR, hostDown, hostExec, hostUp, routeHosts, sshConfigPath } from '../support/testbed.js';
import { BLOCK_CHANGER, run, sh } from './bench-support.js';
import { BENCH_CIPHER, benchArg, EXT4_SOURCES, makeDataSet, median, seconds, spread } from './bench-data.js';

const IMAGES = '/var/lib/libvirt/images';
const BLOCK = 65536;
const MiB = 2 ** 20;
const sizeGiB = Number(benchArg('--size-gib', '4')) || 4;
const runs = Number(benchArg('--runs', '3')) || 3;
const dataSets = benchArg('--data', 'unique,ext4').split(',') as ('unique' | 'ext4')[];

const xml = `<domain type='qemu'><name>bench</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${IMAGES}/bench.raw'/><target dev='vda' bus='virtio'/></disk><video><model type='none'/></video><memballoon model='none'/></devices></domain>`;

type Method = 'dd of both' | 'kvmctl elsewhere' | 'rsync (1)' | 'kvmctl on hosta' | 'rsync (2)';

interface Measurement {
  dataSet: string;
  round: number;
  cache: 'warm' | 'cold';
  method: Method;
  seconds: number;
  changedBytes: number;
  bytesOnWire?: number;
  phases?: Record<string, number>;
}

async function define(host: string): Promise<void> {
  await hostExec(host, ['bash', '-c', `cat > /tmp/bench.xml <<'XML'\n${xml}\nXML\nvirsh -q -c qemu:///system define /tmp/bench.xml >/dev/null; rm -f /tmp/bench.xml`]);
}

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), 'kvmclone-sync-bench-'));
  await Promise.all([hostDown('hosta'), hostDown('hostb')]);
  await hostUp('hosta', 1);
  await hostUp('hostb', 2);
  const unroute = await routeHosts();
  const a = join(E2E_DIR, 'hosta', 'images', 'bench.raw');
  const b = join(E2E_DIR, 'hostb', 'images', 'bench.raw');
  const bRsync = join(E2E_DIR, 'hostb', 'images', 'bench-rsync.raw');
  const all: Measurement[] = [];
  const dataBytes: Record<string, number> = {};
  let seed = 0;
  try {
    await define('hosta');
    await define('hostb');
    const ssh = `ssh -F ${sshConfigPath()} -c ${BENCH_CIPHER}`;
    for (const dataSet of dataSets) {
      console.log(`making the ${dataSet} data set: a ${sizeGiB} GiB raw disk and two copies on hostb ...`);
      await makeDataSet(dataSet, a, sizeGiB);
      await run('cp', ['--sparse=always', a, b]);
      await run('cp', ['--sparse=always', a, bRsync]);
      dataBytes[dataSet] = (await stat(a)).blocks * 512;
      for (let round = 1; round <= runs; round++) {
        for (const cache of ['warm', 'cold'] as const) {
          const prepare = async (dest: string): Promise<void> => {
            if (cache === 'cold') await sh('sync; echo 3 > /proc/sys/vm/drop_caches');
            else await sh(`cat ${a} > /dev/null; cat ${dest} > /dev/null`);
          };
          const change = async (): Promise<number> => Number((await run('python3', ['-c', BLOCK_CHANGER, a, String(++seed)])).stdout.trim()) * BLOCK;
          const record = (method: Method, changedBytes: number, seconds: number, extra: Partial<Measurement> = {}): void => {
            all.push({ dataSet, round, cache, method, seconds, changedBytes, ...extra });
            console.log(`  ${dataSet} round ${round} ${cache} ${method.padEnd(17)} ${seconds.toFixed(1).padStart(6)} s`);
          };
          const kvmctlSync = async (onHost: string | undefined, method: Method, changed: number): Promise<void> => {
            await prepare(b);
            const t0 = Date.now();
            const out = await startKvmctl(['--json', 'sync', 'bench', '--from', 'hosta', '--to', 'hostb'], { stateDir: state, ...(onHost !== undefined && { onHost }) }).done;
            const seconds = (Date.now() - t0) / 1000;
            if (out.code !== 0 || out.result?.ok !== true) throw new Error(`sync exited ${out.code}: ${out.stdout.slice(-2000)}\n${out.stderr}`);
            record(method, changed, seconds, { bytesOnWire: Number(out.result.bytesOnWire ?? 0), phases: (out.result.phases ?? {}) as Record<string, number> });
          };
          const rsync = async (method: Method, changed: number): Promise<void> => {
            await prepare(bRsync);
            // --ignore-times: a copy can share an mtime second with the changed source, and rsync's quick check would then skip it
            record(
              method,
              changed,
              await seconds(() =>
                hostExec('hosta', ['rsync', '--inplace', '--no-whole-file', '--ignore-times', '-e', ssh, `${IMAGES}/bench.raw`, `hostb-root:${IMAGES}/bench-rsync.raw`]),
              ),
            );
          };
          const first = await change();
          await prepare(b);
          record('dd of both', first, await seconds(() => sh(`dd if=${a} of=/dev/null bs=1M status=none; dd if=${b} of=/dev/null bs=1M status=none`)));
          await kvmctlSync(undefined, 'kvmctl elsewhere', first);
          await rsync('rsync (1)', first);
          const second = await change();
          await kvmctlSync('hosta', 'kvmctl on hosta', second);
          await rsync('rsync (2)', second);
          await run('cmp', [a, b]);
          await run('cmp', [a, bRsync]);
        }
      }
    }
  } finally {
    await unroute();
    await Promise.all([hostDown('hosta'), hostDown('hostb')]);
    await rm(state, { recursive: true, force: true });
  }
  await mkdir('bench-results', { recursive: true });
  const out = join('bench-results', `sync-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(out, JSON.stringify({ sizeGiB, runs, cipher: BENCH_CIPHER, sources: EXT4_SOURCES, dataBytes, measurements: all }, null, 2));

  console.log(
    `\nsync hosta -> hostb, ${sizeGiB} GiB raw disk, 1 % of its 64 KiB blocks changed before each tool's run; ${runs} rounds; median (range) seconds; 2 cores shared by both hosts and kvmctl`,
  );
  for (const dataSet of dataSets) {
    console.log(`\n${dataSet}: ${((dataBytes[dataSet] ?? 0) / MiB).toFixed(0)} MiB of data`);
    for (const cache of ['warm', 'cold'] as const) {
      const of = (method: Method): Measurement[] => all.filter((m) => m.dataSet === dataSet && m.cache === cache && m.method === method);
      const secs = (method: Method): number[] => of(method).map((m) => m.seconds);
      const ratio = (ours: Method, base: Method, invert = false): string => {
        const per = of(ours).map((m) => {
          const b2 = of(base).find((x) => x.round === m.round)?.seconds ?? NaN;
          return invert ? m.seconds / b2 : b2 / m.seconds;
        });
        return `${median(per).toFixed(2)}x (${spread(per, 2)})`;
      };
      console.log(`  ${cache}:`);
      for (const method of ['dd of both', 'kvmctl elsewhere', 'rsync (1)', 'kvmctl on hosta', 'rsync (2)'] as const) {
        const s = secs(method);
        const wire = of(method)[0]?.bytesOnWire;
        console.log(
          `    ${method.padEnd(17)} ${median(s).toFixed(1).padStart(6)} s (${spread(s)})${wire !== undefined ? `  ${(wire / (of(method)[0]?.changedBytes ?? 1)).toFixed(2)}x the changed bytes on the wire` : ''}`,
        );
      }
      console.log(`    kvmctl elsewhere: ${ratio('kvmctl elsewhere', 'rsync (1)')} faster than rsync, ${ratio('kvmctl elsewhere', 'dd of both', true)} the dd reads`);
      console.log(`    kvmctl on hosta:  ${ratio('kvmctl on hosta', 'rsync (2)')} faster than rsync`);
    }
  }
  console.log(`\nraw figures: ${out}`);
}

await main();
