/**
 * `scripts/bench clone`: kvmctl clone from hosta to hostb on the testbed,
 * beside the baselines a careful user would reach for, measured in the same
 * run, page cache dropped before each (cold: both sides the same):
 * - `rsync --sparse --whole-file -e 'ssh -c aes128-gcm@openssh.com'` run on
 *   hosta, straight to hostb (the cipher kvmctl uses);
 * - the raw relay channel: the image's allocated bytes streamed from hosta
 *   through this machine to hostb (`ssh A <read data> | ssh B 'cat >
 *   /dev/null'`), what kvmctl run elsewhere must beat;
 * - the raw one-hop channel: the same bytes streamed from hosta itself
 *   (`<read data> | ssh B 'cat > /dev/null'`), what kvmctl run on the
 *   source host must beat;
 * - both channels again into a file on hostb, flushed to disk at the end
 *   (`cat > f && sync f`, as a clone ends with fdatasync): what writing the
 *   copy costs on this machine, before any checking.
 * Every step's CPU seconds per program and for the machine are recorded
 * (cpu-sampler.ts), so the figures say where a clone's time goes.
 * kvmctl is measured both ways: run on this machine (two SSH hops, relayed
 * here) and run on hosta (one hop: hosta is itself, its socket direct).
 *
 * Data sets (each a sparse raw disk of --size-gib, default 4), never one
 * pool repeated (repeats slow rsync's search and would flatter us):
 * - unique: half the disk unique random data (os.urandom) in 64 MiB runs at
 *   seeded places, the rest holes (bench-support.ts IMAGE_WRITER);
 * - ext4: `mkfs.ext4 -d` of a copy of this machine's /usr/share, /usr/bin,
 *   /usr/include and /var/lib/dpkg (mixed, compressible, real free space).
 * --runs N (3) rounds; the table gives the median and range of each, the
 * raw figures go to bench-results/clone-<date>.json.
 *
 *   node dist/test/bench/clone-bench.js [--size-gib G] [--runs N] [--data unique,ext4]
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKvmctl } from '../support/kvmctl.js';
import { E2E_DIR, hostExec, routeHosts, sshConfigPath, IMAGES } from '../support/testbed.js';
import { agentPid, DATA_READER, sh } from './bench-support.js';
import { dataSetBenchFlags } from './bench-flags.js';
import { BENCH_CIPHER, EXT4_SOURCES, makeDataSet, median, spread } from './bench-data.js';
import { startCpuSampler, type CpuUse } from './cpu-sampler.js';
import { defineBenchVm, startHosts, stopHosts } from './bench-vm.js';

const MiB = 2 ** 20;
const { sizeGiB, runs, dataSets } = dataSetBenchFlags('clone-bench', process.argv.slice(2));

const METHODS = ['rsync', 'relay channel', 'one-hop channel', 'relay into a file', 'one-hop into a file', 'kvmctl elsewhere', 'kvmctl on hosta'] as const;
type Method = (typeof METHODS)[number];

interface Measurement {
  dataSet: string;
  round: number;
  method: Method;
  seconds: number;
  bytesOnWire?: number;
  phases?: Record<string, number>;
  cpu?: CpuUse;
}

async function dropCaches(): Promise<void> {
  await sh('sync && echo 3 > /proc/sys/vm/drop_caches');
}

async function kvmctlClone(state: string, onHost: string | undefined): Promise<Omit<Measurement, 'dataSet' | 'round' | 'method'>> {
  const t0 = Date.now();
  const out = await startKvmctl(['--json', 'clone', 'bench', '--from', 'hosta', '--to', 'hostb', '--name', 'bench-copy'], {
    stateDir: state,
    ...(onHost !== undefined && { onHost }),
  }).done;
  const seconds = (Date.now() - t0) / 1000;
  if (out.code !== 0 || out.result?.ok !== true) throw new Error(`clone exited ${out.code}: ${out.stdout.slice(-2000)}\n${out.stderr}`);
  await hostExec('hostb', ['bash', '-c', `virsh -q -c qemu:///system undefine bench-copy >/dev/null && rm -f ${IMAGES}/bench-copy.raw`]);
  return { seconds, bytesOnWire: Number(out.result.bytesOnWire ?? 0), phases: (out.result.phases ?? {}) as Record<string, number> };
}

/** Each agent's pid and the host it serves. */
async function agentPids(): Promise<Map<string, string>> {
  return new Map([
    [await agentPid('hosta'), 'hosta'],
    [await agentPid('hostb'), 'hostb'],
  ]);
}

/** One method, page cache dropped first, with the CPU it used. */
async function measure(method: Method, state: string, reader: string, agents: ReadonlyMap<string, string>): Promise<Omit<Measurement, 'dataSet' | 'round' | 'method'>> {
  await dropCaches();
  const sampler = startCpuSampler(agents);
  const m = await run(method, state, reader).catch((err: unknown) => {
    sampler.stop();
    throw err;
  });
  const cpu = sampler.stop();
  if (method === 'relay into a file' || method === 'one-hop into a file') await hostExec('hostb', ['rm', '-f', `${IMAGES}/bench-channel.out`]);
  return { ...m, cpu };
}

async function run(method: Method, state: string, reader: string): Promise<Omit<Measurement, 'dataSet' | 'round' | 'method' | 'cpu'>> {
  const ssh = `ssh -F ${sshConfigPath()} -c ${BENCH_CIPHER}`;
  const image = `${IMAGES}/bench.raw`;
  const intoFile = `'cat > ${IMAGES}/bench-channel.out && sync ${IMAGES}/bench-channel.out'`;
  const t0 = Date.now();
  const seconds = (): number => (Date.now() - t0) / 1000;
  switch (method) {
    case 'rsync': {
      await hostExec('hosta', ['rsync', '--sparse', '--whole-file', '-e', ssh, image, `hostb-root:${IMAGES}/bench-rsync.raw`]);
      const s = seconds();
      await hostExec('hostb', ['rm', '-f', `${IMAGES}/bench-rsync.raw`]);
      return { seconds: s };
    }
    case 'relay channel':
      await sh(`${ssh} hosta-root python3 ${reader} ${image} | ${ssh} hostb-root 'cat > /dev/null'`);
      return { seconds: seconds() };
    case 'one-hop channel':
      await hostExec('hosta', ['bash', '-c', `python3 ${reader} ${image} | ${ssh} hostb-root 'cat > /dev/null'`]);
      return { seconds: seconds() };
    case 'relay into a file':
      await sh(`${ssh} hosta-root python3 ${reader} ${image} | ${ssh} hostb-root ${intoFile}`);
      return { seconds: seconds() };
    case 'one-hop into a file':
      await hostExec('hosta', ['bash', '-c', `python3 ${reader} ${image} | ${ssh} hostb-root ${intoFile}`]);
      return { seconds: seconds() };
    case 'kvmctl elsewhere':
      return kvmctlClone(state, undefined);
    case 'kvmctl on hosta':
      return kvmctlClone(state, 'hosta');
  }
}

/** The table: each method's median and range, its CPU, and the ratios the targets speak of. */
function printSummary(all: readonly Measurement[], dataBytes: Record<string, number>): void {
  console.log(
    `\nclone hosta -> hostb, ${sizeGiB} GiB raw disk, cold (page cache dropped before each), ${runs} rounds; median (range) seconds; 2 cores shared by both hosts and kvmctl`,
  );
  for (const dataSet of dataSets) {
    const data = dataBytes[dataSet] ?? 0;
    const secs = (method: Method): number[] => all.filter((m) => m.dataSet === dataSet && m.method === method).map((m) => m.seconds);
    const ratio = (ours: Method, base: Method): string => {
      const per = all.filter((m) => m.dataSet === dataSet && m.method === ours).map((m) => (secs(base)[m.round - 1] ?? NaN) / m.seconds);
      return `${median(per).toFixed(2)}x (${spread(per, 2)})`;
    };
    console.log(`\n${dataSet}: ${(data / MiB).toFixed(0)} MiB of data`);
    for (const method of METHODS) {
      const s = secs(method);
      const ours = all.filter((m) => m.dataSet === dataSet && m.method === method && m.cpu !== undefined);
      const cpu = (pick: (c: CpuUse) => number): string => median(ours.map((m) => pick(m.cpu as CpuUse))).toFixed(1);
      const agentsCpu = cpu((c) => (c.byProgram['agent hosta'] ?? 0) + (c.byProgram['agent hostb'] ?? 0));
      const sshCpu = cpu((c) => (c.byProgram.ssh ?? 0) + (c.byProgram.sshd ?? 0));
      console.log(
        `  ${method.padEnd(19)} ${median(s).toFixed(1).padStart(6)} s (${spread(s)})  ${(data / 1e6 / median(s)).toFixed(0).padStart(4)} MB/s   CPU-s: machine ${cpu((c) => c.machine)}, ssh+sshd ${sshCpu}, agents ${agentsCpu}`,
      );
    }
    console.log(`  kvmctl elsewhere vs rsync ${ratio('kvmctl elsewhere', 'rsync')}, vs the relay channel ${ratio('kvmctl elsewhere', 'relay channel')}`);
    console.log(`  kvmctl on hosta  vs rsync ${ratio('kvmctl on hosta', 'rsync')}, vs the one-hop channel ${ratio('kvmctl on hosta', 'one-hop channel')}`);
    console.log(
      `  into a file, the channels reach ${ratio('relay into a file', 'relay channel')} (relay) and ${ratio('one-hop into a file', 'one-hop channel')} (one hop) of their speed to /dev/null`,
    );
    console.log(`  kvmctl vs the channels into a file: elsewhere ${ratio('kvmctl elsewhere', 'relay into a file')}, on hosta ${ratio('kvmctl on hosta', 'one-hop into a file')}`);
  }
}

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), 'kvmclone-clone-bench-'));
  await startHosts();
  const unroute = await routeHosts();
  const all: Measurement[] = [];
  const dataBytes: Record<string, number> = {};
  try {
    const reader = join(state, 'data-reader.py'); // /tmp is shared with the simulated hosts
    await writeFile(reader, DATA_READER);
    await defineBenchVm('hosta', 'bench');
    const agents = await agentPids();
    const local = join(E2E_DIR, 'hosta', 'images', 'bench.raw');
    for (const dataSet of dataSets) {
      console.log(`making the ${dataSet} data set: a ${sizeGiB} GiB raw disk ...`);
      await makeDataSet(dataSet, local, sizeGiB);
      dataBytes[dataSet] = (await stat(local)).blocks * 512;
      console.log(`  ${(dataBytes[dataSet] / MiB).toFixed(0)} MiB of data`);
      for (let round = 1; round <= runs; round++) {
        for (const method of METHODS) {
          const m = { dataSet, round, method, ...(await measure(method, state, reader, agents)) };
          const phases = m.phases
            ? `  ${Object.entries(m.phases)
                .map(([k, v]) => `${k} ${v.toFixed(1)}`)
                .join(', ')}`
            : '';
          const cpu = m.cpu
            ? `  CPU-s ${m.cpu.machine} (${Object.entries(m.cpu.byProgram)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')})`
            : '';
          console.log(`  round ${round} ${method.padEnd(19)} ${m.seconds.toFixed(1).padStart(6)} s${phases}${cpu}`);
          all.push(m);
        }
      }
    }
  } finally {
    await unroute();
    await stopHosts();
    await rm(state, { recursive: true, force: true });
  }
  await mkdir('bench-results', { recursive: true });
  const out = join('bench-results', `clone-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(out, JSON.stringify({ sizeGiB, runs, cipher: BENCH_CIPHER, sources: EXT4_SOURCES, dataBytes, measurements: all }, null, 2));

  printSummary(all, dataBytes);
  console.log(`\nraw figures: ${out}`);
}

await main();
