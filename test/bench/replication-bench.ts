/**
 * `scripts/bench replication`: a replica of a VM on a schedule, on the
 * testbed, measured the way an operator would watch it.
 *
 * The VM `bench` on hosta has one raw disk of G GiB (10) holding a real ext4
 * filesystem half full of files of unique random data (ext4-image.ts). It is
 * replicated to hostb with `kvmctl replica add … --every 1m --keep 3`, and
 * `kvmctl replicate --due` is run every 10 s for M minutes (10) after the
 * first run (the clone). After each run, 0.5 % of the source's 4 KiB blocks
 * are changed: extents of 4..64 KiB of fresh random bytes at random offsets,
 * written into the shut-off source's image file (the disk as a guest would
 * write it: file data, metadata and free space alike; about 1.4 % of the
 * 64 KiB blocks a sync hashes are touched). `kvmctl status --json`
 * is sampled every 10 s in between for the lag. Then the restore points'
 * space (`kvmctl replica points`, and du of their files on hostb).
 *
 * Then failover and failback: `kvmctl failover` (source shut off) starts the
 * copy on hostb; 1 % of the copy's blocks are changed while it runs;
 * `kvmctl failback` catches the original up from a point-in-time view of the
 * running copy, beside a `kvmctl clone --live` of the running copy back to
 * hosta; the copy is stopped, 1 % more changed, and `kvmctl failback` runs
 * offline, beside an offline `kvmctl clone` of the copy back. Both failbacks
 * are checked with cmp (original equals copy). Prints a table and writes the
 * raw figures to bench-results/replication-<date>.json. Not a test.
 *
 *   node dist/test/bench/replication-bench.js [--minutes M] [--size-gib G]
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kvmctl, type KvmctlRun } from '../support/kvmctl.js';
import { hostImagesDir } from '../support/testbed.js';
import { virsh } from '../support/host-inventory.js';
import { changeBlocks, makeExt4Image, type BlockChange, type Ext4Image } from './ext4-image.js';
import { replicationTable, type LagSample, type ReplicationFigures, type ScheduledRun, type TimedOp } from './replication-report.js';
import { run } from './bench-support.js';
import { defineBenchVm, startHosts, stopHosts } from './bench-vm.js';

const VM = 'bench';
const REPLICA = 'bench';
const EVERY_SECONDS = 60;
const TICK_SECONDS = 10;
const KEEP = 3;
const CHANGE = 0.005;
const FAILBACK_CHANGE = 0.01;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} takes a positive number, got ${String(process.argv[i + 1])}`);
  return value;
}
const minutes = flag('--minutes', 10);
const sizeGiB = Math.round(flag('--size-gib', 10));

/** Runs kvmctl --json with the bench's state; resolves with the run and its wall time. */
async function ctl(state: string, args: string[]): Promise<{ out: KvmctlRun; wallSeconds: number }> {
  const t = performance.now();
  const out = await kvmctl(['--json', ...args], { stateDir: state });
  return { out, wallSeconds: (performance.now() - t) / 1000 };
}

/** As ctl, and fails the bench when kvmctl does not exit 0. */
async function must(state: string, args: string[]): Promise<{ out: KvmctlRun; wallSeconds: number }> {
  const r = await ctl(state, args);
  if (r.out.code !== 0) throw new Error(`kvmctl ${args.join(' ')} exited ${r.out.code}:\n${r.out.stdout.slice(-3000)}\n${r.out.stderr.slice(-2000)}`);
  return r;
}

function timedOp(r: { out: KvmctlRun; wallSeconds: number }): TimedOp {
  return { wallSeconds: r.wallSeconds, seconds: Number(r.out.result?.seconds ?? Number.NaN), bytesOnWire: Number(r.out.result?.bytesOnWire ?? 0) };
}

/** The runs one `kvmctl replicate --due` reported. */
function runsOf(r: { out: KvmctlRun; wallSeconds: number }, changeBefore: BlockChange | null): ScheduledRun[] {
  const runs = (r.out.result?.runs ?? []) as Record<string, unknown>[];
  return runs.map((x) => ({
    kind: x.kind === 'clone' ? 'clone' : 'sync',
    outcome: String(x.outcome),
    startedAt: String(x.startedAt),
    finishedAt: String(x.finishedAt),
    seconds: Number(x.seconds),
    wallSeconds: r.wallSeconds,
    bytesOnWire: Number(x.bytesOnWire ?? 0),
    delta: typeof x.delta === 'string' ? x.delta : null,
    operationId: typeof x.operationId === 'string' ? x.operationId : null,
    changeBefore,
    error: typeof x.errorMessage === 'string' ? x.errorMessage : null,
  }));
}

/** `kvmctl status --json` every TICK_SECONDS (offset half a tick from the driver) until `end`. */
async function sampleLag(state: string, end: number, signal: AbortSignal): Promise<LagSample[]> {
  const samples: LagSample[] = [];
  await sleep((TICK_SECONDS * 1000) / 2, undefined, { signal });
  for (let next = Date.now(); Date.now() < end;) {
    const { out } = await ctl(state, ['status']);
    const s = ((out.result?.replicas ?? []) as Record<string, unknown>[]).find((x) => x.replica === REPLICA);
    if (s) samples.push({ at: new Date().toISOString(), lagSeconds: Number(s.lagSeconds), state: String(s.state), withinRpo: s.withinRpo === true, exitCode: out.code });
    else console.log(`status gave no figures for ${REPLICA} (exit ${out.code}): ${out.stdout.slice(-500)}`);
    next += TICK_SECONDS * 1000;
    await sleep(Math.max(0, next - Date.now()), undefined, { signal });
  }
  return samples;
}

/** `kvmctl replicate --due` every TICK_SECONDS until `end`; after each run, CHANGE of the source's blocks are changed. */
async function drive(state: string, source: string, end: number, firstChange: BlockChange, signal: AbortSignal): Promise<ScheduledRun[]> {
  const runs: ScheduledRun[] = [];
  let change: BlockChange | null = firstChange;
  let seed = 100;
  for (let next = Date.now(); Date.now() < end;) {
    const r = await ctl(state, ['replicate', '--due']);
    const done = runsOf(r, change);
    if (done.length === 0 && r.out.code !== 0)
      throw new Error(`kvmctl replicate --due exited ${r.out.code} with no run:\n${r.out.stdout.slice(-3000)}\n${r.out.stderr.slice(-2000)}`);
    for (const x of done) {
      runs.push(x);
      console.log(`${x.startedAt} ${x.kind} ${x.outcome} in ${x.seconds.toFixed(1)} s, ${(x.bytesOnWire / 2 ** 20).toFixed(1)} MiB on the wire${x.error ? `: ${x.error}` : ''}`);
    }
    if (done.length > 0) change = await changeBlocks(source, CHANGE, seed++, signal);
    next += TICK_SECONDS * 1000;
    while (next < Date.now()) next += TICK_SECONDS * 1000;
    await sleep(Math.max(0, Math.min(next, end) - Date.now()), undefined, { signal });
  }
  return runs;
}

/** The restore point files beside the copy's image on hostb. */
async function pointFiles(): Promise<{ name: string; allocatedBytes: number; apparentBytes: number }[]> {
  const dir = hostImagesDir('hostb');
  const names = (await readdir(dir)).filter((n) => n.startsWith(`.${VM}.raw.kvmclone-point-`));
  return Promise.all(
    names.map(async (name) => {
      const s = await stat(join(dir, name));
      return { name, allocatedBytes: s.blocks * 512, apparentBytes: s.size };
    }),
  );
}

/** Clones the copy from hostb back to hosta as `name` (with `extra` flags), then removes that clone. */
async function cloneBack(state: string, name: string, extra: string[]): Promise<TimedOp> {
  const r = await must(state, ['clone', VM, '--from', 'hostb', '--to', 'hosta', '--name', name, ...extra]);
  await virsh('hosta', ['undefine', name, '--remove-all-storage']);
  return timedOp(r);
}

/** Makes the source's image (ext4, half full of files) at `staged` in the work directory and says what it holds. */
async function makeImage(staged: string, work: string, signal: AbortSignal): Promise<Ext4Image> {
  // Made before the testbed lock is taken (it does not need the hosts), moved into hosta's images dir after.
  console.log(`making a ${sizeGiB} GiB raw image: ext4, half full of files of unique random data ...`);
  const image = await makeExt4Image(staged, sizeGiB, 0.5, join(work, 'mnt'), signal);
  console.log(`${image.files} files, ${(image.fileBytes / 2 ** 20).toFixed(0)} MiB; ${(image.allocatedBytes / 2 ** 20).toFixed(0)} MiB allocated`);
  return image;
}

/** Starts both hosts, moves the image into hosta's images directory and defines the VM there; resolves with the source's and the copy's image paths. */
async function setUpHosts(staged: string): Promise<{ source: string; copy: string }> {
  await startHosts();
  const source = join(hostImagesDir('hosta'), `${VM}.raw`);
  const copy = join(hostImagesDir('hostb'), `${VM}.raw`);
  await run('mv', [staged, source]);
  await defineBenchVm('hosta', VM);
  return { source, copy };
}

/** Adds the replica and runs it once (the clone), then changes the source; resolves with that run and the change. */
async function firstRun(state: string, source: string, signal: AbortSignal): Promise<{ first: ScheduledRun[]; firstChange: BlockChange }> {
  await must(state, ['replica', 'add', REPLICA, '--vm', VM, '--from', 'hosta', '--to', 'hostb', '--every', `${EVERY_SECONDS}s`, '--keep', String(KEEP)]);
  console.log('first run: the clone ...');
  const first = runsOf(await must(state, ['replicate', '--due']), null);
  if (first[0]?.kind !== 'clone' || first[0].outcome !== 'succeeded') throw new Error(`the first run was not a successful clone: ${JSON.stringify(first)}`);
  console.log(
    `clone in ${first[0].seconds.toFixed(1)} s, ${(first[0].bytesOnWire / 2 ** 20).toFixed(0)} MiB on the wire; now ${minutes} min of replicate --due every ${TICK_SECONDS} s`,
  );
  const firstChange = await changeBlocks(source, CHANGE, 99, signal);
  return { first, firstChange };
}

/** The restore points' space: what `kvmctl replica points` reports, and the point files on hostb. */
async function restorePointSpace(state: string): Promise<ReplicationFigures['restorePoints']> {
  const points = await must(state, ['replica', 'points', REPLICA]);
  return { reportedBytes: Number(points.out.result?.totalBytes ?? 0), points: (points.out.result?.points ?? []) as unknown[], files: await pointFiles() };
}

/** `kvmctl failover` (the source shut off); fails the bench unless the copy then runs. */
async function failOver(state: string): Promise<TimedOp> {
  console.log('failover (the source shut off) ...');
  const failover = timedOp(await must(state, ['failover', REPLICA]));
  if ((await virsh('hostb', ['domstate', VM])).trim() !== 'running') throw new Error('the copy does not run after the failover');
  return failover;
}

/** Changes FAILBACK_CHANGE of the copy's blocks (seeded by `seed`), runs `kvmctl failback` and checks the original equals the copy. */
async function failback(state: string, source: string, copy: string, seed: number, signal: AbortSignal): Promise<ReplicationFigures['failbackLive']> {
  const change = await changeBlocks(copy, FAILBACK_CHANGE, seed, signal);
  const back = await must(state, ['failback', REPLICA, '--yes']);
  await run('cmp', [source, copy]);
  return { ...timedOp(back), change, delta: String((back.out.result?.syncs as { delta?: string }[] | undefined)?.[0]?.delta ?? '') || null };
}

/** Failback from the running copy, then a `clone --live` of it back to hosta. */
async function failbackFromRunning(state: string, source: string, copy: string, signal: AbortSignal): Promise<Pick<ReplicationFigures, 'failbackLive' | 'cloneBackLive'>> {
  console.log(`changing ${FAILBACK_CHANGE * 100} % of the running copy's blocks, then failback from it ...`);
  const failbackLive = await failback(state, source, copy, 200, signal);
  console.log('clone --live of the running copy back to hosta ...');
  const cloneBackLive = await cloneBack(state, `${VM}-back-live`, ['--live', '--cbt=off']);
  return { failbackLive, cloneBackLive };
}

/** The copy stopped, failback (offline), then an offline clone of it back to hosta. */
async function failbackFromStopped(state: string, source: string, copy: string, signal: AbortSignal): Promise<Pick<ReplicationFigures, 'failbackOffline' | 'cloneBackOffline'>> {
  console.log(`stopping the copy, changing ${FAILBACK_CHANGE * 100} % of its blocks, then failback (offline) ...`);
  await virsh('hostb', ['destroy', VM]);
  const failbackOffline = await failback(state, source, copy, 300, signal);
  console.log('clone of the shut-off copy back to hosta ...');
  const cloneBackOffline = await cloneBack(state, `${VM}-back`, []);
  return { failbackOffline, cloneBackOffline };
}

/** Prints the table and writes the figures to bench-results/replication-<startedAt>.json. */
async function report(figures: ReplicationFigures): Promise<void> {
  console.log(`\n${replicationTable(figures)}`);
  await mkdir('bench-results', { recursive: true });
  const file = join('bench-results', `replication-${figures.startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(figures, null, 2)}\n`);
  console.log(`raw figures: ${file}`);
}

async function main(signal: AbortSignal): Promise<void> {
  const startedAt = new Date().toISOString();
  const work = await mkdtemp(join(tmpdir(), 'kvmclone-replication-bench-'));
  const state = join(work, 'state');
  const staged = join(work, `${VM}.raw`);
  try {
    const image = await makeImage(staged, work, signal);
    const { source, copy } = await setUpHosts(staged);
    const { first, firstChange } = await firstRun(state, source, signal);
    const end = Date.now() + minutes * 60_000;
    const [scheduled, lag] = await Promise.all([drive(state, source, end, firstChange, signal), sampleLag(state, end, signal)]);
    const restorePoints = await restorePointSpace(state);
    const failover = await failOver(state);
    const { failbackLive, cloneBackLive } = await failbackFromRunning(state, source, copy, signal);
    const { failbackOffline, cloneBackOffline } = await failbackFromStopped(state, source, copy, signal);
    await report({
      startedAt,
      sizeGiB,
      minutes,
      everySeconds: EVERY_SECONDS,
      tickSeconds: TICK_SECONDS,
      keep: KEEP,
      changeFraction: CHANGE,
      failbackChangeFraction: FAILBACK_CHANGE,
      image,
      runs: [...first, ...scheduled],
      lag,
      restorePoints,
      failover,
      failbackLive,
      cloneBackLive,
      failbackOffline,
      cloneBackOffline,
      loadavgAfter: (await readFile('/proc/loadavg', 'utf8')).trim(),
    });
  } finally {
    await stopHosts();
    await rm(work, { recursive: true, force: true });
  }
}

const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort(new Error(`${sig}: stopped`)));
await main(controller.signal);
