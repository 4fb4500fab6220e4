/**
 * `scripts/bench streams`: clones over a long link, with transfer.streams 1,
 * 2, 4 … The testbed kernel has no netem, so every SSH connection (kvmctl's
 * and the baselines') goes through test/testbed/delay-relay.mjs as its
 * ProxyCommand, adding --delay-ms (10) each way. Measured in the same run,
 * through the same delayed links, page cache warm (the link is what is
 * measured):
 * - `ssh host cat`: the image's data streamed from this machine to hostb
 *   (`<read data> | ssh hostb 'cat > /dev/null'`), one delayed hop;
 * - the relay channel: the same bytes from hosta through this machine to
 *   hostb (`ssh A <read data> | ssh B 'cat > /dev/null'`), two delayed hops,
 *   the path a clone run from here takes;
 * - kvmctl clone hosta -> hostb run here with each streams setting.
 * With --delay-ms 0 the links are the testbed's own (no relay): what
 * several streams cost where nothing is far.
 * The image: a sparse raw disk of --size-gib (2) GiB, half of it unique
 * random data in 64 MiB runs. --runs N (3) rounds; median and range; raw
 * figures to bench-results/streams-<date>.json.
 *
 *   node dist/test/bench/streams-bench.js [--delay-ms D] [--size-gib G] [--runs N] [--streams 1,2,4]
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKvmctl, writeKvmctlConfig } from '../support/kvmctl.js';
import { E2E_DIR, hostExec, sshConfigPath, TESTBED_DIR, IMAGES } from '../support/testbed.js';
import { DATA_READER, IMAGE_WRITER, run, sh } from './bench-support.js';
import { BENCH_CIPHER, median, seconds } from './bench-data.js';
import { flagsOrUsage, numberFlag, numberListFlag, parseBenchFlags } from './bench-flags.js';
import { defineBenchVm, startHosts, stopHosts } from './bench-vm.js';

const MiB = 2 ** 20;
const { delayMs, sizeGiB, runs, streamCounts } = flagsOrUsage('usage: scripts/bench streams [--delay-ms D] [--size-gib G] [--runs N] [--streams 1,2,4]', () => {
  const flags = parseBenchFlags({ 'delay-ms': '10', 'size-gib': '2', runs: '3', streams: '1,2,4' }, process.argv.slice(2));
  return {
    // 0: the testbed's own links, no relay; anything not a number is refused rather than read as 0
    delayMs: numberFlag('delay-ms', flags['delay-ms'], { min: 0 }),
    sizeGiB: numberFlag('size-gib', flags['size-gib'], { min: 1, integer: true }),
    runs: numberFlag('runs', flags.runs, { min: 1, integer: true }),
    streamCounts: numberListFlag('streams', flags.streams, { min: 1, integer: true }),
  };
});

interface Measurement {
  round: number;
  method: string;
  seconds: number;
}

/** What the rounds need: kvmctl's state and ssh_config, the baselines' ssh command, the data reader and the image here. */
interface StreamsBench {
  state: string;
  config: string;
  ssh: string;
  reader: string;
  local: string;
  all: Measurement[];
}

/**
 * The ssh_config every connection uses: with --delay-ms above 0 one (in the
 * state directory) that sends each connection through delay-relay.mjs;
 * resolves with its path.
 */
async function sshConfig(state: string): Promise<string> {
  // --delay-ms 0: the testbed's links as they are, no relay (what the streams cost where nothing is far)
  const config = delayMs > 0 ? join(state, 'ssh_config') : sshConfigPath();
  if (delayMs > 0)
    await writeFile(
      config,
      `Host hosta hosta-root hostb hostb-root\n  ProxyCommand ${process.execPath} ${join(TESTBED_DIR, 'delay-relay.mjs')} ${delayMs} %h %p\nMatch all\nInclude ${join(E2E_DIR, 'client', 'conf.d')}/*\n`,
    );
  return config;
}

/** Writes the data reader, makes the image on hosta and defines sbench there, then reads it (page cache warm). */
async function makeImage(state: string): Promise<{ reader: string; local: string; dataBytes: number }> {
  const reader = join(state, 'data-reader.py');
  await writeFile(reader, DATA_READER);
  const local = join(E2E_DIR, 'hosta', 'images', 'sbench.raw');
  console.log(`making a ${sizeGiB} GiB raw disk, half unique random data ...`);
  await run('python3', ['-c', IMAGE_WRITER, local, String(sizeGiB)]);
  const dataBytes = (await stat(local)).blocks * 512;
  await defineBenchVm('hosta', 'sbench');
  await sh(`cat ${local} > /dev/null`);
  return { reader, local, dataBytes };
}

/** Clones sbench from hosta to hostb with `n` streams, then removes the copy; resolves with the clone's seconds. */
async function kvmctlClone(bench: StreamsBench, n: number): Promise<number> {
  await writeKvmctlConfig(bench.state, `transfer:\n  streams: ${n}\n`);
  const took = await seconds(async () => {
    const out = await startKvmctl(['--json', 'clone', 'sbench', '--from', 'hosta', '--to', 'hostb', '--name', 'sbench-copy'], {
      stateDir: bench.state,
      extraGlobal: ['--ssh-config', bench.config],
    }).done;
    if (out.code !== 0 || out.result?.ok !== true) throw new Error(`clone with ${n} streams exited ${out.code}: ${out.stdout.slice(-2000)}\n${out.stderr}`);
  });
  await hostExec('hostb', ['bash', '-c', `virsh -q -c qemu:///system undefine sbench-copy >/dev/null && rm -f ${IMAGES}/sbench-copy.raw`]);
  return took;
}

/** One round: `ssh host cat`, the relay channel, then kvmctl with each streams setting. */
async function measureRound(bench: StreamsBench, round: number): Promise<void> {
  const { reader, local, ssh } = bench;
  const add = (method: string, seconds: number): void => {
    bench.all.push({ round, method, seconds });
    console.log(`  round ${round} ${method.padEnd(22)} ${seconds.toFixed(1).padStart(6)} s`);
  };
  add('ssh host cat', await seconds(() => sh(`python3 ${reader} ${local} | ${ssh} hostb-root 'cat > /dev/null'`)));
  add('relay channel', await seconds(() => sh(`${ssh} hosta-root python3 ${reader} ${IMAGES}/sbench.raw | ${ssh} hostb-root 'cat > /dev/null'`)));
  for (const n of streamCounts) add(`kvmctl streams ${n}`, await kvmctlClone(bench, n));
}

/** Writes the raw figures to bench-results/streams-<date>.json; resolves with its path. */
async function writeFigures(all: Measurement[], dataBytes: number): Promise<string> {
  await mkdir('bench-results', { recursive: true });
  const out = join('bench-results', `streams-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(out, JSON.stringify({ delayMs, sizeGiB, runs, dataBytes, cipher: BENCH_CIPHER, measurements: all }, null, 2));
  return out;
}

/** Prints each method's median and range, its throughput, and kvmctl's ratios to the two baselines. */
function printTable(all: Measurement[], dataBytes: number): void {
  const methods = [...new Set(all.map((m) => m.method))];
  const secs = (method: string): number[] => all.filter((m) => m.method === method).map((m) => m.seconds);
  console.log(`\n${(dataBytes / MiB).toFixed(0)} MiB of unique random data, ${delayMs} ms added each way on every SSH connection, page cache warm, ${runs} rounds; median (range)`);
  for (const method of methods) {
    const s = secs(method);
    const vs = (base: string): string => {
      const per = all.filter((m) => m.method === method).map((m) => (secs(base)[m.round - 1] ?? NaN) / m.seconds);
      return `${median(per).toFixed(2)}x`;
    };
    console.log(
      `  ${method.padEnd(22)} ${median(s).toFixed(1).padStart(6)} s (${Math.min(...s).toFixed(1)}–${Math.max(...s).toFixed(1)})  ${(dataBytes / 1e6 / median(s)).toFixed(0).padStart(4)} MB/s  ${method.startsWith('kvmctl') ? `${vs('ssh host cat')} of ssh host cat, ${vs('relay channel')} of the relay channel` : ''}`,
    );
  }
}

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), 'kvmclone-streams-bench-'));
  await startHosts();
  const all: Measurement[] = [];
  let dataBytes = 0;
  try {
    const config = await sshConfig(state);
    const image = await makeImage(state);
    dataBytes = image.dataBytes;
    const bench: StreamsBench = { state, config, ssh: `ssh -F ${config} -c ${BENCH_CIPHER}`, reader: image.reader, local: image.local, all };
    for (let round = 1; round <= runs; round++) await measureRound(bench, round);
  } finally {
    await stopHosts();
    await rm(state, { recursive: true, force: true });
  }
  const out = await writeFigures(all, dataBytes);
  printTable(all, dataBytes);
  console.log(`\nraw figures: ${out}`);
}

await main();
