import { open } from 'node:fs/promises';
const { hashBlocks } = await import('/work/main/dist/agent/disk/block-hasher.js');
for (let r = 0; r < 5; r++) {
const fh = await open('/tmp/kvmclone-e2e/hostb/images/bench.raw');
const size = (await fh.stat()).size;
const t = Date.now(); const u0 = process.cpuUsage(); let n = 0;
for await (const b of hashBlocks(fh, size, { blockSize: 65536, offset: 0, length: 0, batchBlocks: 1024 }, new AbortController().signal)) n += b.blockCount;
const u = process.cpuUsage(u0);
console.log('blocks', n, 'wall', (Date.now()-t)/1000, 'user', u.user/1e6, 'sys', u.system/1e6);
await fh.close();
}
