/**
 * Reconnect and continue within the run (issue 11), on the testbed: during a
 * clone's TRANSFER the destination's SSH connection is cut (its host-side
 * sshd session processes killed) or the destination agent restarted; the
 * clone completes in the same run, says it retried (NDJSON `retry` event),
 * and the bytes on the wire show the part already sent was not sent again.
 * A permanent failure (the destination filesystem fills up) is not retried.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startKvmctl, type KvmctlRun, said } from '../support/kvmctl.js';
import { hostAgent, hostExec, hostImagesDir, IMAGES } from '../support/testbed.js';
import { downHosts, upHosts } from '../support/e2e-hosts.js';
import { domains, imageFiles } from '../support/host-inventory.js';
import { makeTwoDiskVm } from '../support/two-disk-vm.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
/** Random data in the big disk of each VM: what a clone must move. */
const DATA_MIB = 600;
let state: string;

before(async () => {
  state = await upHosts('reconnect', { hostc: { IMAGES_SIZE_MB: '700' } });
});

after(() => downHosts(state));

/** SIGKILLs the sshd session processes of the kvmclone account inside `host` (its network namespace only); returns how many. */
async function killSshSessions(host: string): Promise<number> {
  const script = `me=$(readlink /proc/self/ns/net); n=0; for p in $(pgrep -f '^sshd: kvmclone'); do if [ "$(readlink /proc/$p/ns/net 2>/dev/null)" = "$me" ]; then kill -9 "$p" && n=$((n+1)); fi; done; echo $n`;
  return Number((await hostExec(host, ['bash', '-c', script])).trim());
}

/** Starts a clone of `vm` hosta → `to` and runs `fault` once vdb's pull is `atMiB` in; resolves with the run and whether the fault fired. */
async function cloneWithFault(vm: string, to: string, atMiB: number, fault: () => Promise<unknown>): Promise<{ out: KvmctlRun; fired: boolean; faultResult: unknown }> {
  const clone = startKvmctl(['--json', 'clone', vm, '--from', 'hosta', '--to', to], { stateDir: state });
  let fired = false;
  let faulting: Promise<unknown> = Promise.resolve(undefined);
  clone.onEvent((e) => {
    if (!fired && e.type === 'progress' && e.item === 'vdb' && Number(e.bytesDone) > atMiB * MiB) {
      fired = true;
      faulting = fault();
    }
  });
  const out = await clone.done;
  return { out, fired, faultResult: await faulting };
}

/** Bytes allocated to an image of hosta. */
async function allocated(file: string): Promise<number> {
  return (await stat(join(hostImagesDir('hosta'), file))).blocks * 512;
}

async function assertSameDisks(vm: string): Promise<void> {
  for (const f of [`${vm}.qcow2`, `${vm}-data.raw`]) await run('cmp', [join(hostImagesDir('hosta'), f), join(hostImagesDir('hostb'), f)]);
}

for (const [name, fault] of [
  ['the destination SSH connection is cut (host-side sshd session killed)', () => killSshSessions('hostb')],
  ['the destination agent restarts', () => hostAgent('hostb', 'restart')],
] as const) {
  test(`${name} mid-clone: the clone completes within the run, retried once or more, the part already sent not sent again`, async () => {
    const vm = name.includes('sshd') ? 'rc1' : 'rc2';
    await makeTwoDiskVm('hosta', vm, { rawGiB: 2, dataMiB: DATA_MIB });
    const { out, fired, faultResult } = await cloneWithFault(vm, 'hostb', 1000, fault);
    assert.ok(fired, `the fault came during the transfer: ${said(out)}`);
    if (typeof faultResult === 'number') assert.ok(faultResult >= 1, 'an sshd session process was killed');
    assert.equal(out.code, 0, said(out));
    const retries = out.events.filter((e) => e.type === 'retry');
    assert.ok(retries.length >= 1, `a retry event: ${said(out)}`);
    assert.equal(retries[0]?.host, 'hostb', JSON.stringify(retries[0]));
    assert.equal(retries[0]?.phase, 'TRANSFER');
    assert.equal(retries[0]?.attempts, 6, 'the default attempts');
    assert.ok(Number(retries[0]?.delayMs) >= 1000 && Number(retries[0]?.delayMs) <= 2000, 'the first delay is 1-2 s by default');
    assert.equal(out.result?.retries, retries.length);
    assert.ok(
      out.events.some((e) => e.type === 'info' && /resuming staging file/.test(String(e.message))),
      `vdb's staging file is resumed: ${said(out)}`,
    );
    const sent = Number(out.result?.bytesOnWire);
    // One copy's worth: the data the source files hold (holes are never sent).
    const full = (await allocated(`${vm}-data.raw`)) + (await allocated(`${vm}.qcow2`));
    // About a third of vdb's data had been sent when the fault came: had it been sent again, about 1.4x.
    assert.ok(sent >= full * 0.9 && sent < full * 1.15, `bytes on the wire ${sent} are about one copy's worth (${full}), not more`);
    await assertSameDisks(vm);
    assert.deepEqual(
      (await imageFiles('hostb')).filter((f) => f.includes('kvmclone-staging')),
      [],
      'no staging file is left',
    );
    assert.equal((await hostExec('hostb', ['bash', '-c', 'ls -A /run/kvmclone/forward | grep -c peer- || true'])).trim(), '0', 'no peer socket is left');
    assert.ok((await domains('hostb')).includes(vm));
  });
}

test('a permanent failure (the destination filesystem fills up mid-transfer) is not retried: exit 1, nothing left', async () => {
  await makeTwoDiskVm('hosta', 'rc3', { rawGiB: 1, dataMiB: 400 });
  const filesBefore = await imageFiles('hostc');
  const domainsBefore = await domains('hostc');
  const fill = (): Promise<string> =>
    hostExec('hostc', [
      'bash',
      '-c',
      `avail=$(df --output=avail -B1 ${IMAGES} | tail -1); fallocate -l $((avail - 8388608)) ${IMAGES}/filler; dd if=/dev/zero of=${IMAGES}/filler2 bs=1M status=none 2>/dev/null; echo filled`,
    ]);
  try {
    const clone = startKvmctl(['--json', 'clone', 'rc3', '--from', 'hosta', '--to', 'hostc'], { stateDir: state });
    let filled: Promise<string> | undefined;
    clone.onEvent((e) => {
      if (filled === undefined && e.type === 'progress' && e.item === 'vdb' && Number(e.bytesDone) > 64 * MiB) filled = fill();
    });
    const out = await clone.done;
    assert.ok(filled !== undefined, `the filesystem was filled during the transfer: ${said(out)}`);
    assert.equal(await filled, 'filled\n');
    assert.equal(out.code, 1, said(out));
    assert.equal((out.result?.error as { code?: string } | undefined)?.code, 'RESOURCE_EXHAUSTED', said(out));
    assert.deepEqual(
      out.events.filter((e) => e.type === 'retry'),
      [],
      'no retry',
    );
    assert.deepEqual(await domains('hostc'), domainsBefore);
    assert.deepEqual(
      (await imageFiles('hostc')).filter((f) => !f.startsWith('filler')),
      filesBefore,
      'no staging file left',
    );
  } finally {
    await hostExec('hostc', ['rm', '-f', `${IMAGES}/filler`, `${IMAGES}/filler2`]);
  }
});

test('a sync whose destination SSH connection is cut while it hashes (or right after) completes within the run; the copy equals the source', async () => {
  // rc1 was cloned to hostb by the first test; change a few scattered MiB of its source.
  await hostExec('hosta', ['bash', '-c', `for o in 100 700 1300 1900; do dd if=/dev/urandom of=${IMAGES}/rc1-data.raw bs=1M count=4 seek=$o conv=notrunc status=none; done`]);
  const sync = startKvmctl(['--json', 'sync', 'rc1', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  let cut: Promise<number> | undefined;
  sync.onEvent((e) => {
    if (cut === undefined && e.type === 'progress' && String(e.item).endsWith(' hash')) cut = killSshSessions('hostb');
  });
  const out = await sync.done;
  assert.ok(cut !== undefined, `the connection was cut during PLAN: ${said(out)}`);
  assert.ok((await cut) >= 1, 'an sshd session process was killed');
  assert.equal(out.code, 0, said(out));
  const retries = out.events.filter((e) => e.type === 'retry');
  assert.ok(retries.length >= 1 && ['PLAN', 'TRANSFER'].includes(String(retries[0]?.phase)), `retried: ${said(out)}`);
  assert.equal(retries[0]?.host, 'hostb');
  // 16 MiB changed: with the hashes of what was compared kept, nothing like the whole disk goes over the wire.
  assert.ok(Number(out.result?.bytesOnWire) <= 40 * MiB, `bytes on the wire: ${String(out.result?.bytesOnWire)}`);
  await assertSameDisks('rc1');
  assert.deepEqual(
    (await imageFiles('hostb')).filter((f) => f.includes('kvmclone-journal') || f.includes('kvmclone-staging')),
    [],
    'no journal or staging file left',
  );
});

test('a sync whose destination SSH connection is cut mid-TRANSFER continues the journal the destination kept: the changed bytes cross the wire about once', async () => {
  // rc2 was cloned to hostb by the second test; rewrite 400 scattered MiB of its source.
  await hostExec('hosta', ['bash', '-c', `for i in $(seq 0 49); do dd if=/dev/urandom of=${IMAGES}/rc2-data.raw bs=1M count=8 seek=$((i * 40)) conv=notrunc status=none; done`]);
  const sync = startKvmctl(['--json', 'sync', 'rc2', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  let cut: Promise<number> | undefined;
  sync.onEvent((e) => {
    if (cut === undefined && e.type === 'progress' && e.item === 'vdb' && Number(e.bytesDone) > 150 * MiB) cut = killSshSessions('hostb');
  });
  const out = await sync.done;
  assert.ok(cut !== undefined, `the connection was cut during TRANSFER: ${said(out)}`);
  assert.ok((await cut) >= 1, 'an sshd session process was killed');
  assert.equal(out.code, 0, said(out));
  const retries = out.events.filter((e) => e.type === 'retry');
  assert.ok(retries.length >= 1 && retries[0]?.phase === 'TRANSFER', `retried in TRANSFER: ${said(out)}`);
  assert.ok(
    out.events.some((e) => e.type === 'info' && /vdb: resuming the sync journal on hostb/.test(String(e.message))),
    `the journal is continued: ${said(out)}`,
  );
  const sent = Number(out.result?.bytesOnWire);
  // 400 MiB changed, about 150 MiB of it in the journal when the cut came: sent again, that would be about 1.4x.
  // (An interrupted attempt counts what it had reported: up to one progress interval short, as for a clone.)
  assert.ok(sent >= 360 * MiB && sent < 460 * MiB, `bytes on the wire ${sent} are about the changed bytes once`);
  await assertSameDisks('rc2');
  assert.deepEqual(
    (await imageFiles('hostb')).filter((f) => f.includes('kvmclone-journal') || f.includes('kvmclone-staging')),
    [],
    'no journal or staging file left',
  );
});
