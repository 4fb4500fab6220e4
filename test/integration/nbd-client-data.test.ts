/**
 * NbdClient against real qemu-nbd on real raw and qcow2 images: writes at
 * unaligned offsets, larger than one request, read back byte for byte through
 * the client and in the image itself; many concurrent reads on one
 * connection each get their own bytes.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { run } from './support/image-files.js';
import { KiB, MiB, useNbdImages } from './support/nbd-fixture.js';

const { image, serve, connect } = useNbdImages();

describe('against qemu-nbd', () => {
  for (const format of ['raw', 'qcow2'] as const) {
    test(`${format}: writes at unaligned offsets read back byte for byte, through the client and in the image itself`, async () => {
      const size = 80 * MiB;
      const path = await image(format, size);
      const server = await serve(path, format);
      const client = await connect(server);
      const model = Buffer.alloc(size);
      const put = async (offset: number, data: Buffer): Promise<void> => {
        await client.write(offset, data);
        data.copy(model, offset);
      };
      await put(1_000_003, randomBytes(40 * MiB + 12_345)); // more than maxRequest: split into pieces
      await put(5, randomBytes(777));
      await put(size - 1, Buffer.from([0x5a]));
      await put(3 * MiB + 1, randomBytes(64 * KiB - 2));

      const whole = await client.read(0, size);
      assert.ok(whole.length > client.maxRequest);
      assert.ok(whole.equals(model), 'the whole export reads back as written');
      const into = Buffer.alloc(50 * MiB, 0xee);
      const part = await client.read(999_999, 33 * MiB + 7, undefined, into);
      assert.equal(part.buffer, into.buffer, 'read into the buffer given');
      assert.ok(part.equals(model.subarray(999_999, 999_999 + 33 * MiB + 7)));
      assert.equal(into[33 * MiB + 7], 0xee, 'nothing written past the length asked for');

      await client.flush();
      await client.close();
      await server.close();
      let bytes: Buffer;
      if (format === 'raw') {
        bytes = await readFile(path);
      } else {
        await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', path, `${path}.raw`]);
        bytes = await readFile(`${path}.raw`);
      }
      assert.ok(bytes.equals(model), 'the image holds exactly what was written');
    });
  }

  test('many concurrent reads on one connection each get their own bytes', async () => {
    const size = 96 * MiB;
    const data = randomBytes(size);
    const client = await connect(await serve(await image('raw', size, data), 'raw', { readOnly: true }));
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const spans = Array.from({ length: 40 }, (_, i) => {
      const length = i === 0 ? 33 * MiB + 1 : 1 + rand(3 * MiB);
      return { offset: rand(size - length), length };
    });
    const results = await Promise.all(spans.map((s) => client.read(s.offset, s.length)));
    spans.forEach((s, i) => assert.ok(results[i].equals(data.subarray(s.offset, s.offset + s.length)), `read ${i} at ${s.offset}+${s.length}`));
  });
});
