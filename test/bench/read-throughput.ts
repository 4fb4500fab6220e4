/**
 * ReadRanges throughput against `dd` on the same file, in the same run.
 *
 * Builds a 1 GiB sparse raw image with ~50 % random data in scattered 1 MiB
 * pieces, warms the page cache, then reads it twice with `dd bs=1M` and twice
 * through ReadRanges over a unix socket (WideWindowServer, client with the
 * product's channel options), at 1 MiB and 4 MiB chunks. The client runs in
 * its own process, as the pulling agent does, so the figures are the
 * server's and not two ends sharing one event loop. Not a timed test: it
 * prints figures to compare.
 *
 *   node dist/test/bench/read-throughput.js
 */
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CLIENT_CHANNEL_OPTIONS } from '../../shared/grpc-tuning.js';
import { loadAgentProto } from '../../shared/proto.js';
import type { ReadRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import { startDiskHarness } from '../integration/disk-harness.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const SIZE = 1024 * MiB;

/** 1 GiB sparse file: 512 of its 1024 MiB slots hold random data, picked by a seeded shuffle. */
async function makeImage(path: string): Promise<number> {
  const slots = Array.from({ length: SIZE / MiB }, (_, i) => i);
  let seed = 42;
  for (let i = slots.length - 1; i > 0; i -= 1) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [slots[i], slots[j]] = [slots[j], slots[i]];
  }
  const chosen = slots.slice(0, slots.length / 2).sort((a, b) => a - b);
  const fh = await open(path, 'w');
  try {
    await fh.truncate(SIZE);
    for (const slot of chosen) await fh.write(randomBytes(MiB), 0, MiB, slot * MiB);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return chosen.length * MiB;
}

async function timeDd(path: string): Promise<{ seconds: number; line: string }> {
  const started = process.hrtime.bigint();
  const { stderr } = await run('dd', [`if=${path}`, 'of=/dev/null', 'bs=1M']);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds, line: stderr.trim().split('\n').pop() ?? '' };
}

interface ReadFigures {
  seconds: number;
  data: number;
  messages: number;
}

/** Client side (run in a child process): reads the whole image and reports what arrived. */
async function clientRun(address: string, path: string, chunkSize: number): Promise<ReadFigures> {
  const { proto } = loadAgentProto();
  const client = new proto.kvmclone.agent.v1.DiskService(address, grpc.credentials.createInsecure(), CLIENT_CHANNEL_OPTIONS);
  await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve())));
  const started = process.hrtime.bigint();
  let data = 0;
  let messages = 0;
  for await (const m of client.ReadRanges({ path, chunkSize })) {
    const msg = m as ReadRangesResponse__Output;
    if (msg.data) data += msg.data.data.length;
    messages += 1;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  client.close();
  return { seconds, data, messages };
}

async function timeReadRanges(address: string, path: string, chunkSize: number): Promise<ReadFigures> {
  const { stdout } = await run(process.execPath, [fileURLToPath(import.meta.url), '--client', address, path, String(chunkSize)]);
  return JSON.parse(stdout) as ReadFigures;
}

const mbs = (bytes: number, seconds: number): string => `${(bytes / 1e6 / seconds).toFixed(0)} MB/s`;

async function main(): Promise<void> {
  const h = await startDiskHarness();
  try {
    const path = join(h.root, 'bench.raw');
    const dataBytes = await makeImage(path);
    console.log(`image: ${SIZE / MiB} MiB file, ${dataBytes / MiB} MiB of data in 1 MiB pieces (${path})`);
    await run('cat', [path]).catch(() => undefined);
    await run('dd', [`if=${path}`, 'of=/dev/null', 'bs=1M']); // warm the page cache
    for (let i = 1; i <= 2; i += 1) {
      const dd = await timeDd(path);
      console.log(`dd bs=1M            run ${i}: ${dd.seconds.toFixed(3)} s  file ${mbs(SIZE, dd.seconds)}  (dd: ${dd.line})`);
    }
    await timeReadRanges(h.address, path, 0); // warm the server's JIT
    for (const chunk of [MiB, 4 * MiB]) {
      for (let i = 1; i <= 2; i += 1) {
        const r = await timeReadRanges(h.address, path, chunk);
        if (r.data !== dataBytes) throw new Error(`ReadRanges sent ${r.data} data bytes, expected ${dataBytes}`);
        console.log(
          `ReadRanges ${chunk / MiB} MiB chunks run ${i}: ${r.seconds.toFixed(3)} s  file ${mbs(SIZE, r.seconds)}  data ${mbs(r.data, r.seconds)}  (${r.messages} messages)`,
        );
      }
    }
  } finally {
    await h.close();
  }
}

if (process.argv[2] === '--client') {
  const [address, path, chunk] = process.argv.slice(3);
  process.stdout.write(JSON.stringify(await clientRun(address, path, Number(chunk))));
} else {
  await main();
}
