/**
 * test/testbed/wait-serial.sh, which scripts/demo uses to check that a clone
 * boots: it succeeds once the serial log says HI and fails, with a message
 * naming the VM and what the log said, when it never does (the demo used to
 * print the log and carry on).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const SCRIPT = fileURLToPath(new URL('../../../test/testbed/wait-serial.sh', import.meta.url));
const run = promisify(execFile);

test('wait-serial.sh: HI, even late, passes; a console that never says it fails clearly', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wait-serial-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const log = join(dir, 'web1-serial.log');

  await writeFile(log, 'SeaBIOS (version 1.16)\r\n');
  const late = run(SCRIPT, [log, 'the clone', '5']);
  setTimeout(() => void appendFile(log, 'HI\r\n'), 300);
  const { stdout } = await late;
  assert.equal(stdout, 'serial console of the clone: SeaBIOS (version 1.16)\nHI\n');

  await writeFile(log, 'SeaBIOS (version 1.16)\r\nNo bootable device.\r\n');
  await assert.rejects(run(SCRIPT, [log, 'the drill VM', '1']), (err: Error & { code?: number; stderr?: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr ?? '', /the serial console of the drill VM never said HI within 1 s \(log .*web1-serial\.log: SeaBIOS .*No bootable device\./);
    return true;
  });
  await assert.rejects(run(SCRIPT, [join(dir, 'missing.log'), 'the clone', '1']), /never said HI within 1 s \(log .*missing\.log: empty or missing\)/);
});
