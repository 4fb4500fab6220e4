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
 * itself). A third pair runs as a scheduled replication would, its SSH
 * connections kept from the run before: kvmctl from here with `ssh.persist`,
 * and rsync with an OpenSSH master kept the same way (`ControlMaster=auto`,
 * `ControlPersist`): both connections are opened before the round, untimed.
 * A fourth pair is the same with kvmctl run on hosta (`kvmctl on A, kept`):
 * a replica scheduled on its source host, one hop and no first use of a
 * connection — rsync's side of every pair runs on hosta. Each run of a tool gets a change of its own (rsync's copy gets
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
import { E2E_DIR, hostExec, routeHosts, sshConfigPath, IMAGES } from '../support/testbed.js';
import { BLOCK_CHANGER, run, sh } from './bench-support.js';
import { dataSetBenchFlags } from './bench-flags.js';
import { BENCH_CIPHER, EXT4_SOURCES, makeDataSet, median, ratioFigure, seconds, spread, wireRatios, type DataSet } from './bench-data.js';
import { defineBenchVm, startHosts, stopHosts } from './bench-vm.js';

const BLOCK = 65536;
const MiB = 2 ** 20;
const { sizeGiB, runs, dataSets } = dataSetBenchFlags('sync-bench', process.argv.slice(2));

const METHODS = ['dd of both', 'kvmctl elsewhere', 'rsync (1)', 'kvmctl on hosta', 'rsync (2)', 'kvmctl, kept', 'rsync, kept', 'kvmctl on A, kept', 'rsync, kept (2)'] as const;
type Method = (typeof METHODS)[number];
/** How long the kept connections of both tools stay after a run: longer than any round. */
const KEEP = '10m';

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

/** The source image on hosta, kvmctl's copy on hostb, rsync's copy on hostb. */
const a = join(E2E_DIR, 'hosta', 'images', 'bench.raw');
const b = join(E2E_DIR, 'hostb', 'images', 'bench.raw');
const bRsync = join(E2E_DIR, 'hostb', 'images', 'bench-rsync.raw');

/** What the bench carries from step to step: kvmctl's state, rsync's ssh command, the figures so far, and the last change's seed. */
interface SyncBench {
  state: string;
  ssh: string;
  /** rsync's ssh command with a kept master (on hosta, to hostb), and kvmctl's config file with ssh.persist. */
  sshKept: string;
  keptConfig: string;
  all: Measurement[];
  dataBytes: Record<string, number>;
  seed: number;
}

/** One warm or cold round of one data set. */
interface Round {
  dataSet: string;
  round: number;
  cache: 'warm' | 'cold';
}

/** Warms both images (reads them) or drops the page cache, as the round asks. */
async function prepare(r: Round, dest: string): Promise<void> {
  if (r.cache === 'cold') await sh('sync; echo 3 > /proc/sys/vm/drop_caches');
  else await sh(`cat ${a} > /dev/null; cat ${dest} > /dev/null`);
}

/** Changes 1 % of the source's blocks (the next seed); resolves with the bytes changed. */
async function change(bench: SyncBench): Promise<number> {
  return Number((await run('python3', ['-c', BLOCK_CHANGER, a, String(++bench.seed)])).stdout.trim()) * BLOCK;
}

/** Records one measurement and prints its line. */
function record(bench: SyncBench, r: Round, method: Method, changedBytes: number, seconds: number, extra: Partial<Measurement> = {}): void {
  bench.all.push({ dataSet: r.dataSet, round: r.round, cache: r.cache, method, seconds, changedBytes, ...extra });
  console.log(`  ${r.dataSet} round ${r.round} ${r.cache} ${method.padEnd(17)} ${seconds.toFixed(1).padStart(6)} s`);
}

/** Times `kvmctl sync` run here (`onHost` undefined) or on `onHost`, after warming or dropping the cache. */
async function kvmctlSync(bench: SyncBench, r: Round, onHost: string | undefined, method: Method, changed: number, extraGlobal: string[] = []): Promise<void> {
  await prepare(r, b);
  const t0 = Date.now();
  const out = await startKvmctl(['--json', 'sync', 'bench', '--from', 'hosta', '--to', 'hostb'], { stateDir: bench.state, extraGlobal, ...(onHost !== undefined && { onHost }) })
    .done;
  const seconds = (Date.now() - t0) / 1000;
  if (out.code !== 0 || out.result?.ok !== true) throw new Error(`sync exited ${out.code}: ${out.stdout.slice(-2000)}\n${out.stderr}`);
  record(bench, r, method, changed, seconds, { bytesOnWire: Number(out.result.bytesOnWire ?? 0), phases: (out.result.phases ?? {}) as Record<string, number> });
}

/** Times rsync's delta transfer from hosta into its own copy on hostb, after warming or dropping the cache. */
async function rsync(bench: SyncBench, r: Round, method: Method, changed: number, ssh = bench.ssh): Promise<void> {
  await prepare(r, bRsync);
  // --ignore-times: a copy can share an mtime second with the changed source, and rsync's quick check would then skip it
  record(
    bench,
    r,
    method,
    changed,
    await seconds(() => hostExec('hosta', ['rsync', '--inplace', '--no-whole-file', '--ignore-times', '-e', ssh, `${IMAGES}/bench.raw`, `hostb-root:${IMAGES}/bench-rsync.raw`])),
  );
}

/**
 * Opens (or keeps) both tools' kept connections, untimed, as the previous
 * scheduled run would have left them: kvmctl's masters to both hosts (an
 * `ls` of each with the same settings as its sync), rsync's master from hosta to hostb.
 */
async function keepConnections(bench: SyncBench): Promise<void> {
  for (const onHost of [undefined, 'hosta']) {
    for (const host of ['hosta', 'hostb']) {
      const ls = await startKvmctl(['--json', 'ls', host], { stateDir: bench.state, extraGlobal: ['--config', bench.keptConfig], ...(onHost !== undefined && { onHost }) }).done;
      if (ls.code !== 0) throw new Error(`kvmctl ls ${host} (run on ${onHost ?? 'this machine'}) exited ${ls.code}: ${ls.stderr}`);
    }
  }
  await hostExec('hosta', ['sh', '-c', `${bench.sshKept} hostb-root true`]);
}

/** Ends every kept master: kvmctl's (in this bench's own XDG_RUNTIME_DIR) and rsync's. */
async function endKeptConnections(bench: SyncBench): Promise<void> {
  await hostExec('hosta', ['sh', '-c', `${bench.sshKept} -O exit hostb-root 2>/dev/null || true`]);
  const dir = join(process.env.XDG_RUNTIME_DIR ?? '', 'kvmclone-ssh');
  const endAll = (d: string): string =>
    `for s in ${d}/cm-*; do case "$s" in *.log|*.lock) ;; *) [ -S "$s" ] && ssh -F none -o ControlPath="$s" -O exit x 2>/dev/null; esac; done; true`;
  await sh(endAll(dir));
  // kvmctl run on hosta keeps its masters in hosta's fallback directory (no XDG_RUNTIME_DIR there)
  await hostExec('hosta', ['sh', '-c', endAll('/tmp/kvmclone-ssh-$(id -u)')]);
}

/** One round: a change, the dd reads, kvmctl from here and rsync; a second change, kvmctl on hosta and rsync; a third and a fourth, both with kept connections (kvmctl from here, then on hosta); all copies compared. */
async function measureRound(bench: SyncBench, r: Round): Promise<void> {
  const first = await change(bench);
  await prepare(r, b);
  record(bench, r, 'dd of both', first, await seconds(() => sh(`dd if=${a} of=/dev/null bs=1M status=none; dd if=${b} of=/dev/null bs=1M status=none`)));
  await kvmctlSync(bench, r, undefined, 'kvmctl elsewhere', first);
  await rsync(bench, r, 'rsync (1)', first);
  const second = await change(bench);
  await kvmctlSync(bench, r, 'hosta', 'kvmctl on hosta', second);
  await rsync(bench, r, 'rsync (2)', second);
  await keepConnections(bench);
  const third = await change(bench);
  await kvmctlSync(bench, r, undefined, 'kvmctl, kept', third, ['--config', bench.keptConfig]);
  await rsync(bench, r, 'rsync, kept', third, bench.sshKept);
  const fourth = await change(bench);
  await kvmctlSync(bench, r, 'hosta', 'kvmctl on A, kept', fourth, ['--config', bench.keptConfig]);
  await rsync(bench, r, 'rsync, kept (2)', fourth, bench.sshKept);
  await run('cmp', [a, b]);
  await run('cmp', [a, bRsync]);
}

/** Makes the data set and its two copies on hostb, then runs its rounds, warm then cold in each. */
async function measureDataSet(bench: SyncBench, dataSet: DataSet): Promise<void> {
  console.log(`making the ${dataSet} data set: a ${sizeGiB} GiB raw disk and two copies on hostb ...`);
  await makeDataSet(dataSet, a, sizeGiB);
  await run('cp', ['--sparse=always', a, b]);
  await run('cp', ['--sparse=always', a, bRsync]);
  bench.dataBytes[dataSet] = (await stat(a)).blocks * 512;
  for (let round = 1; round <= runs; round++) {
    for (const cache of ['warm', 'cold'] as const) await measureRound(bench, { dataSet, round, cache });
  }
}

/** Writes the raw figures to bench-results/sync-<date>.json; resolves with its path. */
async function writeFigures(bench: SyncBench): Promise<string> {
  await mkdir('bench-results', { recursive: true });
  const out = join('bench-results', `sync-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(out, JSON.stringify({ sizeGiB, runs, cipher: BENCH_CIPHER, kept: KEEP, sources: EXT4_SOURCES, dataBytes: bench.dataBytes, measurements: bench.all }, null, 2));
  return out;
}

/** Prints one data set's warm or cold figures: each method's median and range, and kvmctl's ratios. */
function printCache(all: Measurement[], dataSet: string, cache: 'warm' | 'cold'): void {
  const of = (method: Method): Measurement[] => all.filter((m) => m.dataSet === dataSet && m.cache === cache && m.method === method);
  const secs = (method: Method): number[] => of(method).map((m) => m.seconds);
  const ratio = (ours: Method, base: Method, invert = false): string => {
    const per = of(ours).map((m) => {
      const b2 = of(base).find((x) => x.round === m.round)?.seconds ?? NaN;
      return invert ? m.seconds / b2 : b2 / m.seconds;
    });
    return ratioFigure(per);
  };
  console.log(`  ${cache}:`);
  for (const method of METHODS) {
    const s = secs(method);
    // every round's bytes on the wire against its own change, median and range as the times
    const wire = wireRatios(of(method));
    console.log(`    ${method.padEnd(17)} ${median(s).toFixed(1).padStart(6)} s (${spread(s)})${wire.length > 0 ? `  ${ratioFigure(wire)} the changed bytes on the wire` : ''}`);
  }
  console.log(`    kvmctl elsewhere: ${ratio('kvmctl elsewhere', 'rsync (1)')} faster than rsync, ${ratio('kvmctl elsewhere', 'dd of both', true)} the dd reads`);
  console.log(`    kvmctl on hosta:  ${ratio('kvmctl on hosta', 'rsync (2)')} faster than rsync`);
  console.log(`    kvmctl, kept:     ${ratio('kvmctl, kept', 'rsync, kept')} faster than rsync, kept; ${ratio('kvmctl, kept', 'rsync (1)')} faster than rsync without`);
  console.log(`    kvmctl on A, kept: ${ratio('kvmctl on A, kept', 'rsync, kept (2)')} faster than rsync, kept`);
}

/** Prints the table: per data set, warm and cold. */
function printTable(bench: SyncBench): void {
  console.log(
    `\nsync hosta -> hostb, ${sizeGiB} GiB raw disk, 1 % of its 64 KiB blocks changed before each tool's run; ${runs} rounds; median (range) seconds; 2 cores shared by both hosts and kvmctl`,
  );
  for (const dataSet of dataSets) {
    console.log(`\n${dataSet}: ${((bench.dataBytes[dataSet] ?? 0) / MiB).toFixed(0)} MiB of data`);
    for (const cache of ['warm', 'cold'] as const) printCache(bench.all, dataSet, cache);
  }
}

/** The bench's state: kvmctl's directory (its kept masters' directory inside), its ssh.persist config, both ssh commands. */
async function newBench(): Promise<SyncBench> {
  const state = await mkdtemp(join(tmpdir(), 'kvmclone-sync-bench-'));
  process.env.XDG_RUNTIME_DIR = join(state, 'run'); // kvmctl's kept masters live here, not among the user's
  await mkdir(process.env.XDG_RUNTIME_DIR, { mode: 0o700 });
  const keptConfig = join(state, 'kept.yaml');
  await writeFile(keptConfig, `ssh:\n  persist: ${KEEP}\n`);
  const ssh = `ssh -F ${sshConfigPath()} -c ${BENCH_CIPHER}`;
  const sshKept = `${ssh} -o ControlMaster=auto -o ControlPath=/tmp/kvmclone-sync-bench-rsync-%C -o ControlPersist=${KEEP}`;
  return { state, ssh, sshKept, keptConfig, all: [], dataBytes: {}, seed: 0 };
}

async function main(): Promise<void> {
  const bench = await newBench();
  await startHosts();
  const unroute = await routeHosts();
  try {
    await defineBenchVm('hosta', 'bench');
    await defineBenchVm('hostb', 'bench');
    for (const dataSet of dataSets) await measureDataSet(bench, dataSet);
  } finally {
    await endKeptConnections(bench);
    await unroute();
    await stopHosts();
    await rm(bench.state, { recursive: true, force: true });
  }
  const out = await writeFigures(bench);
  printTable(bench);
  console.log(`\nraw figures: ${out}`);
}

await main();
