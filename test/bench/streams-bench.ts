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
import { E2E_DIR, hostDown, hostExec, hostUp, sshConfigPath, TESTBED_DIR } from '../support/testbed.js';
import { DATA_READER, IMAGE_WRITER, run, sh } from './bench-support.js';
import { BENCH_CIPHER, benchArg, median, seconds } from './bench-data.js';

const IMAGES = '/var/lib/libvirt/images';
const MiB = 2 ** 20;
const delayMs = Number(benchArg('--delay-ms', '10'));
const sizeGiB = Number(benchArg('--size-gib', '2')) || 2;
const runs = Number(benchArg('--runs', '3')) || 3;
const streamCounts = benchArg('--streams', '1,2,4').split(',').map(Number);

const xml = `<domain type='qemu'><name>sbench</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${IMAGES}/sbench.raw'/><target dev='vda' bus='virtio'/></disk><video><model type='none'/></video><memballoon model='none'/></devices></domain>`;

interface Measurement {
  round: number;
  method: string;
  seconds: number;
}

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), 'kvmclone-streams-bench-'));
  await Promise.all([hostDown('hosta'), hostDown('hostb')]);
  await hostUp('hosta', 1);
  await hostUp('hostb', 2);
  const all: Measurement[] = [];
  let dataBytes = 0;
  try {
    // --delay-ms 0: the testbed's links as they are, no relay (what the streams cost where nothing is far)
    const config = delayMs > 0 ? join(state, 'ssh_config') : sshConfigPath();
    if (delayMs > 0)
      await writeFile(
        config,
        `Host hosta hosta-root hostb hostb-root\n  ProxyCommand ${process.execPath} ${join(TESTBED_DIR, 'delay-relay.mjs')} ${delayMs} %h %p\nMatch all\nInclude ${join(E2E_DIR, 'client', 'conf.d')}/*\n`,
      );
    const reader = join(state, 'data-reader.py');
    await writeFile(reader, DATA_READER);
    const local = join(E2E_DIR, 'hosta', 'images', 'sbench.raw');
    console.log(`making a ${sizeGiB} GiB raw disk, half unique random data ...`);
    await run('python3', ['-c', IMAGE_WRITER, local, String(sizeGiB)]);
    dataBytes = (await stat(local)).blocks * 512;
    await hostExec('hosta', ['bash', '-c', `cat > /tmp/sbench.xml <<'XML'\n${xml}\nXML\nvirsh -q -c qemu:///system define /tmp/sbench.xml >/dev/null; rm -f /tmp/sbench.xml`]);
    await sh(`cat ${local} > /dev/null`);
    const ssh = `ssh -F ${config} -c ${BENCH_CIPHER}`;
    for (let round = 1; round <= runs; round++) {
      const add = (method: string, seconds: number): void => {
        all.push({ round, method, seconds });
        console.log(`  round ${round} ${method.padEnd(22)} ${seconds.toFixed(1).padStart(6)} s`);
      };
      add('ssh host cat', await seconds(() => sh(`python3 ${reader} ${local} | ${ssh} hostb-root 'cat > /dev/null'`)));
      add('relay channel', await seconds(() => sh(`${ssh} hosta-root python3 ${reader} ${IMAGES}/sbench.raw | ${ssh} hostb-root 'cat > /dev/null'`)));
      for (const n of streamCounts) {
        await writeKvmctlConfig(state, `transfer:\n  streams: ${n}\n`);
        const took = await seconds(async () => {
          const out = await startKvmctl(['--json', 'clone', 'sbench', '--from', 'hosta', '--to', 'hostb', '--name', 'sbench-copy'], {
            stateDir: state,
            extraGlobal: ['--ssh-config', config],
          }).done;
          if (out.code !== 0 || out.result?.ok !== true) throw new Error(`clone with ${n} streams exited ${out.code}: ${out.stdout.slice(-2000)}\n${out.stderr}`);
        });
        await hostExec('hostb', ['bash', '-c', `virsh -q -c qemu:///system undefine sbench-copy >/dev/null && rm -f ${IMAGES}/sbench-copy.raw`]);
        add(`kvmctl streams ${n}`, took);
      }
    }
  } finally {
    await Promise.all([hostDown('hosta'), hostDown('hostb')]);
    await rm(state, { recursive: true, force: true });
  }
  await mkdir('bench-results', { recursive: true });
  const out = join('bench-results', `streams-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(out, JSON.stringify({ delayMs, sizeGiB, runs, dataBytes, cipher: BENCH_CIPHER, measurements: all }, null, 2));
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
  console.log(`\nraw figures: ${out}`);
}

await main();
