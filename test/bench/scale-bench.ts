/**
 * `scripts/bench scale`: a big sparse disk — --size-gib (100) GiB virtual
 * with --data-gib (10) GiB of unique random data in 64 MiB runs — cloned
 * hosta -> hostb by kvmctl run on this machine, then 1 % of its 64 KiB
 * blocks rewritten (most of them in holes: new data) and synced. What is
 * watched, not only how long it took: the agents' peak RSS (VmHWM, agents
 * started fresh) and kvmctl's (sampled from /proc while it runs), and how
 * smooth progress is — the longest gap between two progress events and the
 * spread of the rate between them (ETA is derived from that rate). Raw
 * figures to bench-results/scale-<date>.json.
 *
 *   node dist/test/bench/scale-bench.js [--size-gib G] [--data-gib D]
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKvmctl } from '../support/kvmctl.js';
import { E2E_DIR } from '../support/testbed.js';
import { defineBenchVm, startHosts, stopHosts } from './bench-vm.js';
import { agentPeakRss, BLOCK_CHANGER, IMAGE_WRITER, run } from './bench-support.js';
import { flagsOrUsage, numberFlag, parseBenchFlags } from './bench-flags.js';

const MiB = 2 ** 20;
const USAGE = 'usage: scale-bench [--size-gib G] [--data-gib D]';
const { sizeGiB, dataGiB } = flagsOrUsage(USAGE, () => {
  const flags = parseBenchFlags({ 'size-gib': '100', 'data-gib': '10' }, process.argv.slice(2));
  return { sizeGiB: numberFlag('size-gib', flags['size-gib'], { min: 1, integer: true }), dataGiB: numberFlag('data-gib', flags['data-gib'], { min: 1, integer: true }) };
});

/** One kvmctl run's figures. */
interface RunFigures {
  operation: string;
  seconds: number;
  bytesOnWire: number;
  phases: Record<string, number>;
  kvmctlPeakRss: number;
  progressEvents: number;
  /** Longest time between two progress events of the transfer, seconds. */
  longestGap: number;
  /** Rate between progress events, MB/s: 10th, 50th and 90th percentile. */
  rate: { p10: number; p50: number; p90: number };
}

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

async function vmHwm(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

async function kvmctlRun(args: string[], state: string): Promise<RunFigures> {
  const proc = startKvmctl(['--json', ...args], { stateDir: state });
  let peak = 0;
  const sampler = setInterval(() => {
    if (proc.child.pid !== undefined) void vmHwm(proc.child.pid).then((v) => (peak = Math.max(peak, v)));
  }, 200);
  const progress: { t: number; done: number }[] = [];
  proc.onEvent((e) => {
    if (e.type === 'progress') progress.push({ t: Date.parse(String(e.at)), done: Number(e.bytesDone) });
  });
  const t0 = Date.now();
  const out = await proc.done;
  clearInterval(sampler);
  const seconds = (Date.now() - t0) / 1000;
  if (out.code !== 0 || out.result?.ok !== true) throw new Error(`kvmctl ${args.join(' ')} exited ${out.code}: ${out.stdout.slice(-2000)}\n${out.stderr}`);
  const gaps: number[] = [];
  const rates: number[] = [];
  for (let i = 1; i < progress.length; i++) {
    const a = progress[i - 1];
    const b = progress[i];
    if (a === undefined || b === undefined || b.done < a.done) continue;
    const dt = (b.t - a.t) / 1000;
    gaps.push(dt);
    if (dt > 0) rates.push((b.done - a.done) / 1e6 / dt);
  }
  return {
    operation: args[0] ?? '',
    seconds,
    bytesOnWire: Number(out.result.bytesOnWire ?? 0),
    phases: (out.result.phases ?? {}) as Record<string, number>,
    kvmctlPeakRss: peak,
    progressEvents: progress.length,
    longestGap: Math.max(0, ...gaps),
    rate: { p10: percentile(rates, 10), p50: percentile(rates, 50), p90: percentile(rates, 90) },
  };
}

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), 'kvmclone-scale-bench-'));
  await startHosts();
  const runs: RunFigures[] = [];
  let dataBytes = 0;
  const rss: Record<string, { hosta: number; hostb: number }> = {};
  try {
    const image = join(E2E_DIR, 'hosta', 'images', 'scale.raw');
    console.log(`making a ${sizeGiB} GiB sparse raw disk with ${dataGiB} GiB of unique random data ...`);
    await run('python3', ['-c', IMAGE_WRITER, image, String(sizeGiB), String(dataGiB / sizeGiB)]);
    dataBytes = (await stat(image)).blocks * 512;
    await defineBenchVm('hosta', 'scale');
    const clone = await kvmctlRun(['clone', 'scale', '--from', 'hosta', '--to', 'hostb'], state);
    runs.push(clone);
    rss.clone = { hosta: await agentPeakRss('hosta'), hostb: await agentPeakRss('hostb') };
    console.log(
      `clone: ${clone.seconds.toFixed(1)} s, agents ${(rss.clone.hosta / MiB).toFixed(0)} / ${(rss.clone.hostb / MiB).toFixed(0)} MiB, kvmctl ${(clone.kvmctlPeakRss / MiB).toFixed(0)} MiB`,
    );
    const changed = Number((await run('python3', ['-c', BLOCK_CHANGER, image, '11'])).stdout.trim());
    console.log(`changed ${changed} blocks (${((changed * 65536) / MiB).toFixed(0)} MiB)`);
    const sync = await kvmctlRun(['sync', 'scale', '--from', 'hosta', '--to', 'hostb'], state);
    runs.push(sync);
    rss.sync = { hosta: await agentPeakRss('hosta'), hostb: await agentPeakRss('hostb') };
    await run('cmp', [image, join(E2E_DIR, 'hostb', 'images', 'scale.raw')]);
  } finally {
    await stopHosts();
    await rm(join(E2E_DIR, 'hosta', 'images', 'scale.raw'), { force: true });
    await rm(join(E2E_DIR, 'hostb', 'images', 'scale.raw'), { force: true });
    await rm(state, { recursive: true, force: true });
  }
  await mkdir('bench-results', { recursive: true });
  const out = join('bench-results', `scale-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(out, JSON.stringify({ sizeGiB, dataGiB, dataBytes, agentPeakRss: rss, runs }, null, 2));
  console.log(`\n${sizeGiB} GiB sparse raw disk, ${(dataBytes / MiB).toFixed(0)} MiB of unique random data, kvmctl on this machine, page cache as it comes`);
  console.log('run     seconds  on the wire  agent peak RSS (a / b)  kvmctl peak RSS  progress events  longest gap  rate p10/p50/p90 MB/s');
  for (const r of runs) {
    const a = rss[r.operation];
    console.log(
      `${r.operation.padEnd(6)} ${r.seconds.toFixed(1).padStart(8)}  ${(r.bytesOnWire / MiB).toFixed(0).padStart(7)} MiB  ${((a?.hosta ?? 0) / MiB).toFixed(0).padStart(8)} / ${((a?.hostb ?? 0) / MiB).toFixed(0)} MiB  ${(r.kvmctlPeakRss / MiB).toFixed(0).padStart(11)} MiB  ${String(r.progressEvents).padStart(15)}  ${r.longestGap.toFixed(1).padStart(9)} s  ${r.rate.p10.toFixed(0)}/${r.rate.p50.toFixed(0)}/${r.rate.p90.toFixed(0)}`,
    );
  }
  console.log(`(agent peak RSS after the sync is the peak over both runs)\nraw figures: ${out}`);
}

await main();
