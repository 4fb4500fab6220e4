/**
 * In-place pulls of qcow2 images between two real agent processes: the
 * header the source's bytes would leave is checked before the journal
 * commits (a header naming a host file (/etc/passwd) as its backing file is refused, the journal
 * discarded, the image untouched), and a destination rebased at clone time
 * keeps its backing reference while the digest still equals the source's.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import type { PullProgress__Output } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { AgentProcessPair } from './support/agent-processes.js';
import { pullRequest } from './support/agent-pair.js';
import { streamEvents } from '../support/stream-events.js';
import { run } from './support/image-files.js';
import { sha256 } from '../support/file-sha256.js';

let a: AgentClients;
let b: AgentClients;
const agents = new AgentProcessPair();
let imagesA: string;
let imagesB: string;

before(async () => {
  await agents.start('kvmclone-pull-header-');
  ({ a, b, imagesA, imagesB } = agents);
  await Promise.all([mkdir(join(imagesA, 'clones')), mkdir(join(imagesB, 'clones'))]);
});

after(() => agents.stop());

async function qemuImg(...args: string[]): Promise<string> {
  return (await run('qemu-img', args)).stdout;
}

/** Pulls A's `source` into B's `target` in place, all of its `size` bytes . */
async function pullInPlace(source: string, target: string, size: number): Promise<PullProgress__Output[]> {
  const peer = await agents.peers.broker(source);
  const pull = b.transfer.pullImage(pullRequest(peer, source, target, { ranges: [{ offset: 0, length: size }], mode: 'PULL_MODE_IN_PLACE', format: 'qcow2' }), {
    deadline: Date.now() + 60_000,
  });
  return streamEvents(pull);
}

test("a source header naming a host file (/etc/passwd) as its backing file is refused before the journal commits; the destination's image is untouched", async () => {
  const target = join(imagesB, 'victim.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', target, '4M');
  const before = await sha256(target);
  // What a compromised source agent can serve: its StatImage reads only the image's own header.
  const source = join(imagesA, 'evil.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/passwd', '-F', 'raw', source, '4M');
  const size = (await stat(source)).size;
  const details = await rejectsWithStatus(pullInPlace(source, target, size), 'PERMISSION_DENIED');
  assert.match(details, /\/etc\/passwd.*outside the agent's image roots/);
  assert.equal(await sha256(target), before, 'the image is as it was');
  await assert.rejects(stat(journalPathFor(target)), 'the journal was removed');
});

test("a destination rebased at clone time keeps its backing reference; the reported digest is the source's", async () => {
  const base = join(imagesA, 'keep-base.qcow2');
  const source = join(imagesA, 'keep.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', base, '4M');
  await qemuImg('create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', source);
  const copyBase = join(imagesB, 'clones', 'keep-base.qcow2');
  const target = join(imagesB, 'clones', 'keep.qcow2');
  await copyFile(base, copyBase);
  await copyFile(source, target);
  await qemuImg('rebase', '-u', '-f', 'qcow2', '-b', copyBase, '-F', 'qcow2', target);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x63 1M 64k', '-c', 'write -P 0x64 3M 64k', source]);

  const size = (await stat(source)).size;
  const events = await pullInPlace(source, target, size);
  const last = events.at(-1);
  assert.ok(last?.done, JSON.stringify(last));
  const expected = await unaryCall(a.disk, a.disk.digestImage, { path: source }, { deadlineMs: 30_000 });
  assert.equal(last.digest, expected.digest, "the digest is the source's (the header as the source sent it)");
  const info = JSON.parse(await qemuImg('info', '-f', 'qcow2', '--output=json', target)) as { 'backing-filename': string };
  assert.equal(info['backing-filename'], copyBase, 'the destination still names its own base');
  await qemuImg('check', '-q', '-f', 'qcow2', target);
  await qemuImg('compare', '-q', '-f', 'qcow2', '-F', 'qcow2', source, target);
});
