/**
 * Failover, test failover and failback of a replica on the testbed:
 * - a test failover starts `<copy>-drill` (links down) and its cleanup removes
 *   it; the copy's images (by digest) and the replica's record are unchanged;
 * - failover is refused while the source VM runs, and while its host's agent
 *   cannot be reached unless --force; with --force the copy starts as it was
 *   last synced, the replica is failed over and replicate skips it;
 * - failback after writes on the running copy (made through its QEMU, as the
 *   guest would): asks before overwriting an original that was unreachable at
 *   the failover (refused without --yes), then syncs from a point-in-time view
 *   of the running copy with about the bytes written on the wire, not the disk
 *   size; --switch with the copy shut off syncs the rest, starts the original
 *   and makes the replica forward and active again. Both shut off at the end,
 *   the original equals the copy.
 */
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kvmctl, writeKvmctlConfig, ONE_QUICK_RETRY } from '../support/kvmctl.js';
import { hostAgent, hostImagesDir } from '../support/testbed.js';
import { downHosts, upHosts } from '../support/e2e-hosts.js';
import { domstate, virsh } from '../support/host-inventory.js';
import { makeTwoDiskVm } from '../support/two-disk-vm.js';

const run = promisify(execFile);
const VM = 'vm13';
const MiB = 1024 * 1024;
let state: string;

const ctl = (args: string[]) => kvmctl(['--json', ...args], { stateDir: state });

/** sha256 of each of the copy's image files on hostb. */
async function copyDigests(): Promise<string> {
  const { stdout } = await run('sha256sum', [`${VM}.qcow2`, `${VM}-data.raw`], { cwd: hostImagesDir('hostb') });
  return stdout;
}

async function replicaRecord(): Promise<Record<string, unknown>> {
  const shown = await ctl(['replica', 'show', 'r13']);
  assert.equal(shown.code, 0, shown.stdout);
  return shown.result?.replica as Record<string, unknown>;
}

before(async () => {
  state = await upHosts('failover');
  await writeKvmctlConfig(state, ONE_QUICK_RETRY);
  await makeTwoDiskVm('hosta', VM, { rawGiB: 1, dataMiB: 16 });
});

after(() => downHosts(state));

/** Test failover: a drill VM runs beside the copy, links down; cleanup removes it; copy and replica untouched. Returns the copy's digests. */
async function drillAndCleanup(): Promise<string> {
  const digests = await copyDigests();
  const record = await replicaRecord();
  const drill = await ctl(['failover', 'r13', '--test']);
  assert.equal(drill.code, 0, drill.stdout.slice(-3000) + drill.stderr);
  assert.equal(drill.result?.vm, `${VM}-drill`);
  assert.equal(await domstate('hostb', `${VM}-drill`), 'running');
  assert.match(await virsh('hostb', ['dumpxml', `${VM}-drill`]), /<link state=['"]down['"]\/>/);
  assert.equal(await domstate('hostb', VM), 'shut off');
  const again = await ctl(['failover', 'r13', '--test']);
  assert.equal(again.code, 3, again.stdout);
  const cleanup = await ctl(['failover', 'r13', '--test', '--cleanup']);
  assert.equal(cleanup.code, 0, cleanup.stdout.slice(-2000));
  assert.equal(cleanup.result?.removed, true);
  assert.ok(!(await virsh('hostb', ['list', '--all', '--name'])).split('\n').includes(`${VM}-drill`), 'the drill VM is gone');
  assert.equal(await copyDigests(), digests, 'the copy is untouched');
  assert.deepEqual(await replicaRecord(), record, 'the replica and its schedule are untouched');
  return digests;
}

/** The source runs: failover is refused (split brain) and the copy stays shut off. */
async function failoverRefusedWhileSourceRuns(): Promise<void> {
  await virsh('hosta', ['start', VM]);
  const refused = await ctl(['failover', 'r13']);
  assert.equal(refused.code, 3, refused.stdout);
  assert.match(String((refused.result?.error as { message?: string }).message), /vm13 on hosta is running: .*split brain/);
  assert.equal(await domstate('hostb', VM), 'shut off');
  await virsh('hosta', ['destroy', VM]);
}

/** The source host's agent cannot be reached: refused without --force, done with it; the copy runs as last synced and replicate skips it. */
async function failoverForcedWhileAgentDown(digests: string): Promise<void> {
  await hostAgent('hosta', 'stop');
  try {
    const unknown = await ctl(['failover', 'r13']);
    assert.equal(unknown.code, 3, unknown.stdout);
    assert.match(String((unknown.result?.error as { message?: string }).message), /hosta cannot be reached .*--force/);
    const forced = await ctl(['failover', 'r13', '--force']);
    assert.equal(forced.code, 0, forced.stdout.slice(-3000) + forced.stderr);
    assert.equal((forced.result?.source as { state?: string }).state, 'unreachable');
  } finally {
    await hostAgent('hosta', 'start');
  }
  assert.equal(await domstate('hostb', VM), 'running');
  assert.equal(await copyDigests(), digests, 'the copy started as it was last synced');
  const shown = await replicaRecord();
  assert.deepEqual([shown.lifecycle, shown.direction, shown.paused], ['failed-over', 'reverse', true]);
  const skipped = await ctl(['replicate', 'r13']);
  assert.equal((skipped.result?.skipped as { reason: string }[])[0]?.reason, 'failed-over');
  assert.equal((await ctl(['failover', 'r13'])).code, 3, 'failed over already');
}

/** Writes 3 MiB in three places of the running copy's vdb through its QEMU and checks the monitor reports no error. */
async function writeOnRunningCopy(): Promise<void> {
  // Through its QEMU, what the guest would do (the virtio-blk device under libvirt's PCI proxy is the one with the
  // block backend).
  const xml = await virsh('hostb', ['dumpxml', VM]);
  const alias = /<target dev='vdb'[^>]*\/>\s*<alias name='([^']+)'\/>/.exec(xml)?.[1];
  assert.ok(alias, 'the running copy names vdb');
  for (const offset of [5, 300, 700]) {
    const said = await virsh('hostb', ['qemu-monitor-command', VM, '--hmp', `qemu-io -d /machine/peripheral/${alias}/virtio-backend "write -P 0x5a ${offset}M 1M"`]);
    // qemu-io prints its report on QEMU's stdout, not the monitor: the monitor says only errors.
    assert.doesNotMatch(said, /error/i, `qemu-io on ${alias}: ${said}`);
  }
}

/** The original was unreachable at the failover: failback asks (refused without --yes), then live-syncs about the 3 MiB written; the copy stays running. */
async function failbackFromRunningCopy(t: TestContext): Promise<void> {
  const asked = await ctl(['failback', 'r13']);
  assert.equal(asked.code, 3, asked.stdout);
  assert.match(String((asked.result?.error as { message?: string }).message), /may hold writes vm13 never saw/);
  const back = await ctl(['failback', 'r13', '--yes']);
  assert.equal(back.code, 0, back.stdout.slice(-3000) + back.stderr);
  const [live] = back.result?.syncs as { live: boolean; delta: string; bytesOnWire: number }[];
  assert.equal(live?.live, true);
  assert.equal(live?.delta, 'hash');
  const bytes = Number(back.result?.bytesOnWire);
  assert.ok(bytes >= 3 * MiB && bytes <= 4 * MiB, `about the 3 MiB written, not the 1 GiB disk: ${bytes}\n${back.stdout.slice(-4000)}`);
  t.diagnostic(`failback from the running copy: ${bytes} bytes on the wire for 3 MiB written (${String(back.result?.seconds)} s)`);
  assert.equal(await domstate('hostb', VM), 'running', 'the copy stays in service');
  assert.equal(await domstate('hosta', VM), 'shut off');
}

/** --switch with the copy shut off: a final sync, the original started, the replica forward and active again. */
async function switchBack(t: TestContext): Promise<void> {
  await virsh('hostb', ['destroy', VM]);
  const switched = await ctl(['failback', 'r13', '--switch', '--yes']);
  assert.equal(switched.code, 0, switched.stdout.slice(-3000) + switched.stderr);
  assert.equal(switched.result?.lifecycle, 'active');
  t.diagnostic(`failback --switch: ${String(switched.result?.bytesOnWire)} bytes on the wire (${String(switched.result?.seconds)} s)`);
  assert.equal(await domstate('hosta', VM), 'running');
  const home = await replicaRecord();
  assert.deepEqual([home.lifecycle, home.direction, home.paused], ['active', 'forward', false]);
}

/** Both shut off: the original's images equal the copy's, and the operations history has the failover, failback and drill cleanup. */
async function originalEqualsCopy(): Promise<void> {
  await virsh('hosta', ['destroy', VM]);
  await run('cmp', [join(hostImagesDir('hosta'), `${VM}-data.raw`), join(hostImagesDir('hostb'), `${VM}-data.raw`)]);
  await run('qemu-img', ['compare', '-q', join(hostImagesDir('hosta'), `${VM}.qcow2`), join(hostImagesDir('hostb'), `${VM}.qcow2`)]);
  const ops = await ctl(['ops', 'list']);
  const kinds = new Set((ops.result?.operations as { kind: string }[] | undefined)?.map((o) => o.kind));
  for (const kind of ['failover', 'failback', 'drill-cleanup']) assert.ok(kinds.has(kind), `${kind} is in the history`);
}

test('test failover and cleanup, failover refused and forced, failback by changed blocks, --switch', async (t) => {
  assert.equal((await ctl(['replica', 'add', 'r13', '--vm', VM, '--from', 'hosta', '--to', 'hostb', '--every', '1h'])).code, 0);
  const seeded = await ctl(['replicate', 'r13']);
  assert.equal(seeded.code, 0, seeded.stdout.slice(-3000) + seeded.stderr);
  const digests = await drillAndCleanup();
  await failoverRefusedWhileSourceRuns();
  await failoverForcedWhileAgentDown(digests);
  await writeOnRunningCopy();
  await failbackFromRunningCopy(t);
  await switchBack(t);
  await originalEqualsCopy();
});
