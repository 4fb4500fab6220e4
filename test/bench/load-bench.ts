/**
 * `scripts/bench load`: aggregate throughput of concurrent operations beside
 * one alone. On the testbed, N+1 VMs on hosta, each a raw disk of M GiB half
 * filled with its own random data (generated per VM, never one pool copied:
 * nothing compresses or repeats), then
 *   - one `kvmctl clone` hosta -> hostb alone,
 *   - N clones (8 by default) started together, one config and state dir,
 * each with fresh agents so their peak RSS (VmHWM) is that phase's. Bytes
 * moved are the results' bytesOnWire; throughput is bytes / wall time of the
 * phase (first start to last end). Prints a small table and writes the raw
 * figures to bench-results/load-<date>.json. Not a test: figures to compare.
 *
 *   node dist/test/bench/load-bench.js [--ops N] [--size-gib M]
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKvmctl } from '../support/kvmctl.js';
import { defineBenchVm, startHosts, stopHosts } from './bench-vm.js';
import { E2E_DIR, hostAgent } from '../support/testbed.js';
import { flagsOrUsage, numberFlag, parseBenchFlags } from './bench-flags.js';
import { agentCpuSeconds, agentPeakRss, run, sh } from './bench-support.js';

const MiB = 2 ** 20;
const { ops, sizeGiB } = flagsOrUsage('usage: load-bench [--ops N] [--size-gib G]', () => {
  const flags = parseBenchFlags({ ops: '8', 'size-gib': '1' }, process.argv.slice(2));
  return { ops: numberFlag('ops', flags.ops, { min: 1, integer: true }), sizeGiB: numberFlag('size-gib', flags['size-gib'], { min: 1, integer: true }) };
});

/** Half of the 1 MiB slots of a sparse image, each filled with fresh random bytes (seeded slot choice, unseeded data). */
const UNIQUE_WRITER = `
import os, sys, random
path, size_gib, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
slots = size_gib * 1024
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600); os.ftruncate(fd, slots << 20)
for slot in sorted(random.Random(seed).sample(range(slots), slots // 2)):
    os.pwrite(fd, os.urandom(1 << 20), slot << 20)
os.fsync(fd); os.close(fd)
`;

/** One phase's figures. */
interface Phase {
  ops: number;
  seconds: number;
  bytesOnWire: number;
  perOp: { vm: string; seconds: number; bytesOnWire: number; retries: number }[];
  agentPeakRss: { hosta: number; hostb: number };
  /** CPU seconds each agent used in the phase (fresh agents: all of it is the phase's). */
  agentCpuSeconds: { hosta: number; hostb: number };
}

/** Clones `vms` hosta -> hostb all at once; every run must exit 0. */
async function clonePhase(vms: readonly string[], state: string): Promise<Phase> {
  await Promise.all([hostAgent('hosta', 'restart'), hostAgent('hostb', 'restart')]);
  const t0 = Date.now();
  const runs = await Promise.all(
    vms.map(async (vm) => {
      const out = await startKvmctl(['--json', 'clone', vm, '--from', 'hosta', '--to', 'hostb'], { stateDir: state }).done;
      if (out.code !== 0) throw new Error(`clone ${vm} exited ${out.code}: ${out.stdout.slice(-2000)}\n${out.stderr}`);
      return { vm, seconds: (Date.now() - t0) / 1000, bytesOnWire: Number(out.result?.bytesOnWire ?? 0), retries: Number(out.result?.retries ?? 0) };
    }),
  );
  const seconds = (Date.now() - t0) / 1000;
  const agentPeak = { hosta: await agentPeakRss('hosta'), hostb: await agentPeakRss('hostb') };
  const agentCpu = { hosta: await agentCpuSeconds('hosta'), hostb: await agentCpuSeconds('hostb') };
  for (const vm of vms) await run('cmp', [join(E2E_DIR, 'hosta', 'images', `${vm}.raw`), join(E2E_DIR, 'hostb', 'images', `${vm}.raw`)]);
  return { ops: vms.length, seconds, bytesOnWire: runs.reduce((n, r) => n + r.bytesOnWire, 0), perOp: runs, agentPeakRss: agentPeak, agentCpuSeconds: agentCpu };
}

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), 'kvmclone-load-bench-'));
  await startHosts();
  try {
    const names = Array.from({ length: ops + 1 }, (_, i) => `load${i}`);
    console.log(`making ${names.length} raw images of ${sizeGiB} GiB on hosta, each half its own random data ...`);
    for (const [i, vm] of names.entries()) {
      await run('python3', ['-c', UNIQUE_WRITER, join(E2E_DIR, 'hosta', 'images', `${vm}.raw`), String(sizeGiB), String(i + 1)]);
      await defineBenchVm('hosta', vm);
    }
    // Page cache warm for both phases alike (all sources fit in memory here).
    await sh(`cat ${names.map((vm) => join(E2E_DIR, 'hosta', 'images', `${vm}.raw`)).join(' ')} > /dev/null`);

    const alone = await clonePhase(names.slice(0, 1), state);
    console.log(`alone: ${alone.seconds.toFixed(1)} s`);
    const together = await clonePhase(names.slice(1), state);
    console.log(`${ops} at once: ${together.seconds.toFixed(1)} s`);

    const row = (what: string, p: Phase): string =>
      `${what.padEnd(14)} ${String(p.ops).padStart(3)} ${p.seconds.toFixed(1).padStart(8)} s ${(p.bytesOnWire / MiB).toFixed(0).padStart(8)} MiB ${(p.bytesOnWire / MiB / p.seconds).toFixed(0).padStart(6)} MiB/s` +
      `   ${(p.agentPeakRss.hosta / MiB).toFixed(0).padStart(4)} / ${(p.agentPeakRss.hostb / MiB).toFixed(0)} MiB` +
      `   ${p.agentCpuSeconds.hosta.toFixed(1).padStart(5)} / ${p.agentCpuSeconds.hostb.toFixed(1)} s`;
    console.log(`\n${sizeGiB} GiB raw disk per VM, half unique random data; page cache warm; 2 cores shared by both hosts and the controller (OpenSSH engine)`);
    console.log(`${'phase'.padEnd(14)} ops     wall        on the wire  aggregate   agent peak RSS (source / destination)   agent CPU (source / destination)`);
    console.log(row('one alone', alone));
    console.log(row(`${ops} at once`, together));
    console.log(
      `aggregate / alone: ${(together.bytesOnWire / together.seconds / (alone.bytesOnWire / alone.seconds)).toFixed(2)}x; slowest of the ${ops}: ${Math.max(...together.perOp.map((r) => r.seconds)).toFixed(1)} s, fastest ${Math.min(...together.perOp.map((r) => r.seconds)).toFixed(1)} s`,
    );

    const load = (await readFile('/proc/loadavg', 'utf8')).trim();
    await mkdir('bench-results', { recursive: true });
    const out = join('bench-results', `load-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(out, JSON.stringify({ sizeGiB, ops, alone, together, loadavgAfter: load }, null, 2));
    console.log(`raw figures: ${out}`);
  } finally {
    await stopHosts();
    await rm(state, { recursive: true, force: true });
  }
}

await main();
