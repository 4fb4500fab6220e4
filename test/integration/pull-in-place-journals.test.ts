/**
 * Journals of in-place pulls between two real agent processes, settled later:
 * an agent killed when the apply begins rolls the sync forward at its next
 * start; journals cut short, damaged or for another inode are removed at
 * start; the next pull settles a journal left beside its image first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { useAgentProcesses } from './support/agent-processes.js';
import { gone, makeRaw, run, sha256 } from './support/image-files.js';
import { clonedToB, inPlace, leaveJournal, MiB, startPull } from './support/in-place-pulls.js';

const KiB = 1024;
const agents = useAgentProcesses('kvmclone-inplace-');

test('an agent killed when the apply begins rolls the sync forward at its next start', async () => {
  const name = 'kill.raw';
  const { source, target } = await clonedToB(agents, name, 128 * MiB, [[0, 128 * MiB]]);
  // 96 MiB of new data: the apply outlasts the kill by a wide margin.
  await makeRaw(join(agents.dir, 'new-data'), 96 * MiB, [[0, 96 * MiB]]);
  const fh = await open(source, 'r+');
  await fh.write(await readFile(join(agents.dir, 'new-data')), 0, 96 * MiB, 16 * MiB);
  await fh.write(Buffer.alloc(4 * MiB), 0, 4 * MiB, 120 * MiB);
  await fh.close();
  const { request } = await inPlace(agents, name, [{ offset: 16 * MiB, length: 108 * MiB }]);
  const killed = agents.agentB;
  const pull = startPull(agents, request, (e) => {
    if (e.phase === 'apply' && !e.done) killed.child.kill('SIGKILL');
  });
  await assert.rejects(pull.ended);
  assert.equal(await killed.exited, 'SIGKILL');
  assert.ok(
    pull.events.some((e) => e.phase === 'apply'),
    'the kill came with the apply notice',
  );
  const journal = journalPathFor(target);
  assert.ok(!(await gone(journal)), 'the committed journal outlived the agent');
  await agents.restartB();
  assert.ok(await gone(journal), 'the journal is gone after the start');
  assert.ok(
    agents.agentB.output.some((l) => l.includes('sync journal rolled forward into the image') && l.includes(name)),
    'the start rolled it forward',
  );
  await run('cmp', [source, target]);
});

test('at start, journals cut before their trailer, damaged, or for another inode are removed and their images untouched', async () => {
  await mkdir(join(agents.imagesB, 'vm2'), { recursive: true });
  const cases = [
    { image: join(agents.imagesB, 'cut.raw'), flaw: 'truncated' as const },
    { image: join(agents.imagesB, 'vm2', 'damaged.raw'), flaw: 'corrupt' as const },
    { image: join(agents.imagesB, 'vm2', 'moved.raw'), flaw: 'foreign' as const },
  ];
  const hashes: string[] = [];
  const journals: string[] = [];
  for (const c of cases) {
    await makeRaw(c.image, 8 * MiB, [[0, 8 * MiB]]);
    hashes.push(await sha256(c.image));
    journals.push(
      await leaveJournal(
        c.image,
        [
          { offset: MiB, data: randomBytes(2 * MiB) },
          { offset: 5 * MiB, data: Buffer.alloc(64 * KiB, 0xee) },
        ],
        c.flaw,
      ),
    );
  }
  await agents.restartB();
  for (const [i, c] of cases.entries()) {
    assert.ok(await gone(journals[i]), `${c.flaw}: journal removed`);
    assert.equal(await sha256(c.image), hashes[i], `${c.flaw}: image untouched`);
  }
  assert.ok(agents.agentB.output.some((l) => l.includes('sync journal incomplete or damaged: discarded') && l.includes('cut.raw')));
  assert.ok(agents.agentB.output.some((l) => l.includes('sync journal incomplete or damaged: discarded') && l.includes('damaged.raw') && l.includes('corrupt')));
  assert.ok(agents.agentB.output.some((l) => l.includes('does not belong to this image') && l.includes('moved.raw')));
});

test('the next pull settles a journal first: a committed one is applied, a damaged one discarded', async () => {
  const name = 'next.raw';
  const { source, target } = await clonedToB(agents, name, 8 * MiB, [[0, 8 * MiB]]);
  await run('cmp', [source, target]);
  const old = await readFile(target);
  // Committed: its 0xee block lands, though the pull itself never touches that region.
  await leaveJournal(target, [{ offset: 4 * MiB, data: Buffer.alloc(64 * KiB, 0xee) }]);
  const fh = await open(source, 'r+');
  await fh.write(randomBytes(64 * KiB), 0, 64 * KiB, 0);
  await fh.close();
  const first = await inPlace(agents, name, [{ offset: 0, length: 64 * KiB }]);
  assert.ok((await startPull(agents, first.request).ended).at(-1)?.done);
  let now = await readFile(target);
  assert.ok(now.subarray(4 * MiB, 4 * MiB + 64 * KiB).equals(Buffer.alloc(64 * KiB, 0xee)), 'the committed journal was applied');
  assert.ok(now.subarray(0, 64 * KiB).equals((await readFile(source)).subarray(0, 64 * KiB)), 'then the pull itself');
  // Damaged: its block must not land.
  await leaveJournal(target, [{ offset: 6 * MiB, data: Buffer.alloc(64 * KiB, 0xdd) }], 'corrupt');
  const second = await inPlace(agents, name, [{ offset: 0, length: 64 * KiB }]);
  assert.ok((await startPull(agents, second.request).ended).at(-1)?.done);
  now = await readFile(target);
  assert.ok(now.subarray(6 * MiB, 6 * MiB + 64 * KiB).equals(old.subarray(6 * MiB, 6 * MiB + 64 * KiB)), 'the damaged journal was not applied');
  assert.ok(await gone(journalPathFor(target)));
  assert.ok(agents.agentB.output.some((l) => l.includes('sync journal incomplete or damaged: discarded') && l.includes(name)));
});
