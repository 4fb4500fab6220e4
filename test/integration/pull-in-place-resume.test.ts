/**
 * In-place pulls between two real agent processes interrupted during the
 * transfer (kvmctl's call cancelled, or the path to the source cut at the
 * proxy): the image stays as it was, the journal is kept, the same
 * operation's retry continues it and another operation's pull drops it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { useAgentProcesses } from './support/agent-processes.js';
import { gone, makeRaw, run, sha256 } from './support/image-files.js';
import { inPlace, interrupted, MiB, startPull } from './support/in-place-pulls.js';

const agents = useAgentProcesses('kvmclone-inplace-');

test("a cancel during the transfer (kvmctl's connection dropped) leaves the image as it was; a pull of another operation drops the kept journal and completes", async () => {
  const name = 'cancel.raw';
  const target = join(agents.imagesB, name);
  await makeRaw(join(agents.imagesA, name), 64 * MiB, [[0, 64 * MiB]]);
  await makeRaw(target, 32 * MiB, [[0, 32 * MiB]]);
  const before = await sha256(target);
  await interrupted(agents, name, 'cancel');
  assert.equal(await sha256(target), before, 'the image is unchanged');
  assert.equal((await stat(target)).size, 32 * MiB);
  assert.ok(!(await gone(journalPathFor(target))), 'the journal is kept for the retry of the same operation');
  // A rerun (a new operation) must not wait for it: the kept journal is dropped and the pull starts over.
  const { request } = await inPlace(agents, name, [{ offset: 0, length: 64 * MiB }]);
  const events = await startPull(agents, request).ended;
  assert.equal(events[0]?.bytesDone, 0, 'another operation starts from nothing');
  assert.equal(events.at(-1)?.bytesTransferred, 64 * MiB);
  await run('cmp', [join(agents.imagesA, name), target]);
  assert.ok(await gone(journalPathFor(target)), 'no journal is left');
});

for (const how of ['cancel', 'cut'] as const) {
  test(`the same operation's retry after ${how === 'cancel' ? "kvmctl's call was cancelled" : 'the path to the source broke'} continues its journal: only the missing bytes cross the wire`, async () => {
    const name = `resume-${how}.raw`;
    const target = join(agents.imagesB, name);
    await makeRaw(join(agents.imagesA, name), 64 * MiB, [[0, 64 * MiB]]);
    await makeRaw(target, 64 * MiB, [[0, 64 * MiB]]);
    const before = await sha256(target);
    const first = await interrupted(agents, name, how);
    assert.ok(first.kept >= 8 * MiB && first.kept < 64 * MiB, `the first attempt got part of the way (${first.kept})`);
    assert.equal(await sha256(target), before, 'the image is untouched until the commit');
    // The retry: a new ticket and peer path, the same operation and ranges.
    const retry = await inPlace(agents, name, [{ offset: 0, length: 64 * MiB }], { operationId: first.request.operationId });
    const events = await startPull(agents, retry.request).ended;
    const kept = events[0]?.bytesDone ?? 0;
    assert.ok(kept >= first.kept, `the retry's first message counts what the journal kept (${kept} >= ${first.kept})`);
    assert.equal(events.at(-1)?.bytesTransferred, 64 * MiB - kept, 'only the missing bytes are fetched');
    assert.ok(events.at(-1)?.done);
    await run('cmp', [join(agents.imagesA, name), target]);
    assert.ok(await gone(journalPathFor(target)), 'no journal is left');
  });
}
