/**
 * --compress on the agents' data chunks: compressible data travels zstd
 * and comes back exactly; random data goes plain (AUTO decides on a sample);
 * OFF leaves the sink alone; a damaged, oversized or unknown chunk is
 * DATA_LOSS; the controller's flag and config choose the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { checkCompress, compressed, compressingSink, plainData } from '../../agent/transfer/chunk-compression.js';
import { compressField, withCompress } from '../../controller/cli/compress-flag.js';
import type { ControllerOptions } from '../../controller/config/controller-config.js';
import type { ReadRangesResponse } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import type { DataChunk__Output } from '../../shared/generated/kvmclone/agent/v1/DataChunk.js';

const MiB = 1024 * 1024;
/** Text-like data: compressible, as a filesystem image's files are. */
const text = Buffer.from('kvmclone moves only changed blocks; '.repeat(Math.ceil(MiB / 36)).slice(0, MiB));

function received(message: ReadRangesResponse): DataChunk__Output {
  const d = message.data as { offset: number; data: Buffer; compression?: string; plainLength?: number };
  return {
    offset: d.offset,
    data: d.data,
    hash: Buffer.alloc(0),
    blockHashes: Buffer.alloc(0),
    compression: (d.compression ?? 'COMPRESSION_NONE') as DataChunk__Output['compression'],
    plainLength: d.plainLength ?? 0,
  };
}

test('compressible data travels zstd and comes back byte for byte; random data goes plain', async () => {
  for (const mode of ['COMPRESS_ZSTD', 'COMPRESS_AUTO'] as const) {
    const sent: ReadRangesResponse[] = [];
    const sink = compressingSink(mode, async (m) => void sent.push(m));
    await sink({ data: { offset: 4096, data: text } });
    const random = randomBytes(MiB);
    await sink({ data: { offset: 0, data: random } });
    await sink({ zero: { offset: 0, length: MiB } });
    const [first, second, third] = sent;
    assert.ok(first && second && third);
    assert.equal(first.data?.compression, 'COMPRESSION_ZSTD', mode);
    assert.ok((first.data?.data as Buffer).length < MiB / 10, `${mode}: ${(first.data?.data as Buffer).length} bytes`);
    assert.ok(plainData(received(first), 'test').equals(text));
    assert.equal(second.data?.compression, undefined, `${mode}: random data is sent plain`);
    assert.equal(second.data?.data, random);
    assert.deepEqual(third, { zero: { offset: 0, length: MiB } });
  }
});

test('AUTO skips a chunk whose sample does not shrink, even if its rest would', () => {
  const mixed = Buffer.concat([randomBytes(128 * 1024), text.subarray(0, MiB - 128 * 1024)]);
  assert.equal(compressed(mixed, 'COMPRESS_AUTO'), undefined);
  assert.ok(compressed(mixed, 'COMPRESS_ZSTD') !== undefined);
});

test('OFF is the sink itself; modes are checked', () => {
  const send = async (): Promise<void> => undefined;
  assert.equal(compressingSink('COMPRESS_OFF', send), send);
  assert.equal(checkCompress(undefined), 'COMPRESS_OFF');
  assert.equal(checkCompress('COMPRESS_AUTO'), 'COMPRESS_AUTO');
  assert.throws(() => checkCompress(7 as unknown as 'COMPRESS_OFF'), /compress: 7 is not a compress mode/);
});

test('a damaged, oversized or unknown chunk is DATA_LOSS', async () => {
  const sent: ReadRangesResponse[] = [];
  await compressingSink('COMPRESS_ZSTD', async (m) => void sent.push(m))({ data: { offset: 0, data: text } });
  const good = received(sent[0]);
  const loss = (chunk: DataChunk__Output, pattern: RegExp): void =>
    assert.throws(
      () => plainData(chunk, 'source agent'),
      (err: Error & { code?: string }) => err.code === 'DATA_LOSS' && pattern.test(err.message),
    );
  loss({ ...good, data: Buffer.from(good.data.subarray(0, 20)) }, /does not decompress/);
  loss({ ...good, plainLength: good.plainLength - 1 }, /decompressed to 1048576 bytes, not the 1048575/);
  loss({ ...good, plainLength: 64 * MiB }, /announces 67108864 plain bytes/);
  loss({ ...good, compression: 9 as unknown as DataChunk__Output['compression'] }, /encoding this agent does not know/);
  assert.equal(plainData({ ...good, compression: 'COMPRESSION_NONE' }, 'x'), good.data);
});

test('the controller: --compress over kvmctl.yaml, and the PullImage field of each mode', () => {
  const options = { transfer: { concurrency: 2, bwlimit: 0, links: [], compress: 'auto' } } as unknown as ControllerOptions;
  assert.equal(withCompress(options, {}), options);
  assert.equal(withCompress(options, { compress: 'off' }).transfer.compress, 'off');
  assert.deepEqual(
    ['off', 'zstd', 'auto'].map((m) => compressField(m as 'off')),
    ['COMPRESS_OFF', 'COMPRESS_ZSTD', 'COMPRESS_AUTO'],
  );
});
