/**
 * Restore points between two real agent processes whose destination agent is
 * SIGKILLed while a pull keeps its undo record, when its apply begins, or in
 * the middle of a restore: each settles consistently at the next start, and
 * the points left still restore the source as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { undoNameFor } from '../../agent/transfer/restore-point-files.js';
import { useAgentProcesses } from './support/agent-processes.js';
import { gone, run, sha256 } from './support/image-files.js';
import { change, KiB, MiB, points, pull, restore, sourceState, twin } from './support/restore-point-pulls.js';

const agents = useAgentProcesses('kvmclone-points-');

test('an agent killed when the apply of a keep pull begins rolls it forward at its start, and the point is there', async () => {
  const name = 'kill-apply.raw';
  await twin(agents, name, 64 * MiB);
  const before = await sourceState(agents, name);
  const ranges = await change(agents, name, [[0, 48 * MiB]]);
  const killed = agents.agentB;
  await assert.rejects(
    pull(agents, name, ranges, { keepPoints: 2 }, (e) => {
      if (e.phase === 'apply' && !e.done) killed.child.kill('SIGKILL');
    }),
  );
  assert.equal(await killed.exited, 'SIGKILL');
  await agents.restartB();
  await run('cmp', [join(agents.imagesA, name), join(agents.imagesB, name)]);
  const listed = await points(agents, name);
  assert.equal(listed.length, 1, 'the point outlived the kill');
  assert.equal(listed[0]?.digest, before.digest);
  await restore(agents, name, listed[0]?.id ?? '');
  assert.equal(await sha256(join(agents.imagesB, name)), before.sha);
});

test('an agent killed while its pull writes or has just sealed the undo record leaves the image and the points consistent', async () => {
  const name = 'kill-undo.raw';
  await twin(agents, name, 64 * MiB);
  await pull(agents, name, await change(agents, name, [[0, 64 * KiB]]), { keepPoints: 3 });
  const before = await sha256(join(agents.imagesB, name));
  const ranges = await change(agents, name, [[0, 40 * MiB]]);
  const after = await sha256(join(agents.imagesA, name));
  const undo = join(agents.imagesB, undoNameFor(name));
  const killed = agents.agentB;
  let seen = false;
  const watching = (async () => {
    while (!seen && killed.child.exitCode === null) {
      if (!(await gone(undo))) {
        seen = true;
        killed.child.kill('SIGKILL');
      }
      await sleep(1);
    }
  })();
  await pull(agents, name, ranges, { keepPoints: 3 }).catch(() => undefined);
  seen = true;
  await watching;
  await agents.restartB();
  const now = await sha256(join(agents.imagesB, name));
  const listed = await points(agents, name);
  assert.ok(await gone(undo), 'no pending undo record is left');
  assert.ok(await gone(journalPathFor(join(agents.imagesB, name))), 'no journal is left');
  if (now === before) assert.equal(listed.length, 1, 'not committed: no new point');
  else {
    assert.equal(now, after, 'committed: rolled forward');
    assert.equal(listed.length, 2, 'committed: the new point is kept');
  }
  // Either way the oldest point still restores the first state.
  await restore(agents, name, listed.at(-1)?.id ?? '');
  assert.equal((await points(agents, name)).length, 0);
});

test('an agent killed in the middle of a restore finishes that point at its start; the older points still restore', async () => {
  const name = 'kill-restore.raw';
  await twin(agents, name, 128 * MiB);
  const states = [await sourceState(agents, name)];
  await pull(agents, name, await change(agents, name, [[0, 64 * KiB]]), { keepPoints: 3 });
  states.push(await sourceState(agents, name));
  await pull(agents, name, await change(agents, name, [[MiB, 96 * MiB]]), { keepPoints: 3 });
  const listed = await points(agents, name);
  const killed = agents.agentB;
  await assert.rejects(
    restore(agents, name, listed[1]?.id ?? '', (e) => {
      if (e.phase === 'apply' && e.pointsDone === 0) killed.child.kill('SIGKILL');
    }),
  );
  await agents.restartB();
  assert.ok(await gone(journalPathFor(join(agents.imagesB, name))));
  assert.ok(
    agents.agentB.output.some((l) => l.includes('sync journal rolled forward into the image') && l.includes(name)) || (await points(agents, name)).length === 2,
    'the point being applied was rolled forward at the start (or the kill came before its rename)',
  );
  const left = await points(agents, name);
  if (left.length === 1) assert.equal(await sha256(join(agents.imagesB, name)), states[1]?.sha, 'at the state of the point being applied');
  await restore(agents, name, listed[1]?.id ?? '');
  assert.equal(await sha256(join(agents.imagesB, name)), states[0]?.sha);
  assert.deepEqual(await readdir(agents.imagesB).then((names) => names.filter((n) => n.includes(name) && n !== name)), [], 'nothing is left beside the image');
});
