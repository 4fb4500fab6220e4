/**
 * What in-place pulls between two real agent processes refuse: a missing
 * target, a staging id, a target outside the roots or not a file, ranges
 * past the source, and a hard-linked target, each leaving no journal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { useAgentProcesses } from './support/agent-processes.js';
import { gone, run, sha256 } from './support/image-files.js';
import { clonedToB, inPlace, MiB, startPull } from './support/in-place-pulls.js';

const agents = useAgentProcesses('kvmclone-inplace-');

test('in-place pulls refuse a missing target, a staging id, a target outside the roots or not a file, and ranges past the source', async () => {
  const name = 'refuse.raw';
  await clonedToB(agents, name, 4 * MiB, [[0, 4 * MiB]]);
  const outside = join(agents.dir, 'outside.raw');
  await writeFile(outside, Buffer.alloc(4096));
  await mkdir(join(agents.imagesB, 'adir'), { recursive: true });
  const base = {
    peerSocket: join(agents.runB, `peer-${randomUUID()}.sock`),
    ticket: 'a'.repeat(64),
    sourcePath: join(agents.imagesA, name),
    stagingId: '',
    operationId: randomUUID(),
    ranges: [],
    mode: 'PULL_MODE_IN_PLACE',
  };
  await rejectsWithStatus(startPull(agents, { ...base, targetPath: join(agents.imagesB, 'missing.raw') }).ended, 'NOT_FOUND');
  await rejectsWithStatus(startPull(agents, { ...base, targetPath: join(agents.imagesB, name), stagingId: randomUUID() }).ended, 'INVALID_ARGUMENT');
  await rejectsWithStatus(startPull(agents, { ...base, targetPath: outside }).ended, 'PERMISSION_DENIED');
  await rejectsWithStatus(startPull(agents, { ...base, targetPath: join(agents.imagesB, 'adir') }).ended, 'FAILED_PRECONDITION');
  const before = await sha256(join(agents.imagesB, name));
  const { request } = await inPlace(agents, name, [{ offset: 3 * MiB, length: 2 * MiB }]);
  await rejectsWithStatus(startPull(agents, request).ended, 'OUT_OF_RANGE');
  assert.ok(await gone(journalPathFor(join(agents.imagesB, name))), 'no journal is left');
  assert.equal(await sha256(join(agents.imagesB, name)), before);
});

test('an in-place pull refuses a hard-linked target (issue 10, hole 4): the other name, here outside the roots, is not written', async () => {
  const name = 'linked.raw';
  await clonedToB(agents, name, 4 * MiB, [[0, 4 * MiB]]);
  const other = join(agents.dir, 'other-name-of-linked.raw');
  await run('ln', [join(agents.imagesB, name), other]);
  const before = await sha256(other);
  const { request } = await inPlace(agents, name, [{ offset: 0, length: 1 * MiB }]);
  const details = await rejectsWithStatus(startPull(agents, request).ended, 'FAILED_PRECONDITION');
  assert.match(details, /2 hard links/);
  assert.equal(await sha256(other), before, 'the file behind the other name is unchanged');
  assert.ok(await gone(journalPathFor(join(agents.imagesB, name))), 'no journal is left');
});
