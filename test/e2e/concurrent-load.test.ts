/**
 * Concurrent load (issue 11), on the testbed: eight kvmctl processes started
 * together with one config and one state directory — four clones of four VMs
 * and four syncs of four other VMs (cloned beforehand, then changed) from
 * hosta to hostb. While they run, a ninth clones a VM one of them is cloning
 * and is refused naming the holder's operation id, and one clone's own SSH
 * master to hostb is SIGKILLed: that clone reconnects and completes, the
 * others never retry (each kvmctl has its own masters, so no connection is
 * shared between operations). All eight exit 0 and their copies equal the
 * sources byte for byte; the shared history records all nine. Neither
 * agent's peak RSS (VmHWM) exceeds 200 MiB (the agents run as the unit runs
 * them, with AGENT_NODE_OPTIONS and the default memory.soft_limit).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cloneToHostb, kvmctl, startKvmctl, type KvmctlProcess, type KvmctlRun, said } from '../support/kvmctl.js';
import { E2E_DIR, hostExec, hostImagesDir, IMAGES } from '../support/testbed.js';
import { downHosts, upHosts } from '../support/e2e-hosts.js';
import { makeTwoDiskVm } from '../support/two-disk-vm.js';
import { AGENT_NODE_OPTIONS } from '../../agent/node-options.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
/** The VMs the load clones; the first has its connection cut, the second is the one the ninth asks for. */
const CLONES = ['lc1', 'lc2', 'lc3', 'lc4'] as const;
/** The VMs the load syncs: cloned before the load, then changed at the source. */
const SYNCS = ['ls1', 'ls2', 'ls3', 'ls4'] as const;
const CUT = 'lc1';
const BUSY = 'lc2';
/** Random data in each cloned VM's big disk (unique per VM: makeTwoDiskVm writes /dev/urandom). */
const CLONE_DATA_MIB = 192;
const SYNC_DATA_MIB = 96;
const AGENT_RSS_LIMIT = 200 * MiB;
let state: string;

before(async () => {
  state = await upHosts('load');
  for (const vm of CLONES) await makeTwoDiskVm('hosta', vm, { rawGiB: 2, dataMiB: CLONE_DATA_MIB });
  for (const vm of SYNCS) {
    await makeTwoDiskVm('hosta', vm, { rawGiB: 2, dataMiB: SYNC_DATA_MIB });
    await cloneToHostb(vm, state);
    // 24 scattered MiB of new data, and the system disk's overlay rewritten in part.
    await hostExec('hosta', [
      'bash',
      '-c',
      `set -e; cd ${IMAGES}; for o in $(seq 30 80 1950); do dd if=/dev/urandom of=${vm}-data.raw bs=1M count=1 seek=$o conv=notrunc status=none; done; qemu-io -f qcow2 -c 'write -P 0x3c 0 128k' ${vm}.qcow2 >/dev/null`,
    ]);
  }
});

after(() => downHosts(state));

/** PID of host `name`'s agent (host-agent.sh runs `bash -c "exec node …"`, so this is the node process itself). */
async function agentPid(name: string): Promise<number> {
  const pid = Number((await readFile(join(E2E_DIR, name, 'pids', 'agent.pid'), 'utf8')).trim());
  const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  assert.ok(
    cmdline.some((a) => a.endsWith('agent/main.js')),
    `agent.pid ${pid} is the agent's node process: ${cmdline.join(' ')}`,
  );
  for (const option of AGENT_NODE_OPTIONS) assert.ok(cmdline.includes(option), `the agent runs with ${option}: ${cmdline.join(' ')}`);
  return pid;
}

/** A `VmHWM`/`VmRSS` figure of `pid` in bytes. */
async function memory(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1];
  assert.ok(kb !== undefined, `${field} of ${pid}`);
  return Number(kb) * 1024;
}

/**
 * SIGKILLs the OpenSSH master to `host` that kvmctl process `pid` started
 * (its child running `ssh … -o ControlMaster=yes … -- host`); returns the
 * PIDs killed. Only that process's connection goes: other kvmctl processes
 * have masters of their own.
 */
async function killSshMaster(pid: number, host: string): Promise<number[]> {
  const { stdout } = await run('pgrep', ['-P', String(pid)]).catch(() => ({ stdout: '' }));
  const killed: number[] = [];
  for (const child of stdout.split('\n').filter(Boolean).map(Number)) {
    const argv = (await readFile(`/proc/${child}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean);
    if (argv.includes('ControlMaster=yes') && argv.at(-1) === host) {
      process.kill(child, 'SIGKILL');
      killed.push(child);
    }
  }
  return killed;
}

async function assertSameDisks(vm: string): Promise<void> {
  for (const f of [`${vm}.qcow2`, `${vm}-data.raw`]) await run('cmp', [join(hostImagesDir('hosta'), f), join(hostImagesDir('hostb'), f)]);
}

/** The agents' peak RSS during the load, for the memory test below. */
let measured: { hosta: number; hostb: number } | undefined;

/** One of the eight operations: its process, when it first moved data and when it ended. */
interface LoadOp {
  proc: KvmctlProcess;
  firstProgressAt?: number;
  endedAt?: number;
}

/** What the load test's steps share: the eight operations, and the ninth and the cut once started. */
interface Load {
  ops: Map<string, LoadOp>;
  ninth?: Promise<KvmctlRun & { endedAt: number }>;
  cut?: Promise<number[]>;
}

/** Starts the eight operations at once, noting when each first moves data and when it ends. */
function startOperations(): Map<string, LoadOp> {
  const ops = new Map<string, { proc: KvmctlProcess; firstProgressAt?: number; endedAt?: number }>();
  for (const vm of CLONES) ops.set(vm, { proc: startKvmctl(['--json', 'clone', vm, '--from', 'hosta', '--to', 'hostb'], { stateDir: state }) });
  for (const vm of SYNCS) ops.set(vm, { proc: startKvmctl(['--json', 'sync', vm, '--from', 'hosta', '--to', 'hostb'], { stateDir: state }) });
  for (const op of ops.values()) {
    op.proc.onEvent((e) => {
      if (e.type === 'progress' && Number(e.bytesDone) > 0) op.firstProgressAt ??= Date.now();
    });
    void op.proc.done.then(() => (op.endedAt = Date.now()));
  }
  return ops;
}

/** Starts the ninth while BUSY's clone moves data, and cuts CUT's connection a quarter into its data disk. */
function armNinthAndCut(load: Load): void {
  // The ninth: a clone of BUSY while BUSY's clone moves data (its locks are held on both hosts).
  load.ops.get(BUSY)?.proc.onEvent((e) => {
    if (load.ninth === undefined && e.type === 'progress' && e.item === 'vdb' && Number(e.bytesDone) > 0) {
      load.ninth = startKvmctl(['--json', 'clone', BUSY, '--from', 'hosta', '--to', 'hostb'], { stateDir: state }).done.then((r) => ({ ...r, endedAt: Date.now() }));
    }
  });
  // The cut: CUT's own SSH master to hostb, once a quarter of its data disk has gone over.
  const cutProc = load.ops.get(CUT)?.proc;
  cutProc?.onEvent((e) => {
    if (load.cut === undefined && e.type === 'progress' && e.item === 'vdb' && Number(e.bytesDone) > (CLONE_DATA_MIB / 4) * MiB) {
      load.cut = killSshMaster(cutProc.child.pid ?? -1, 'hostb');
    }
  });
}

/** All eight complete, and they ran at once: each moved data before any of them ended. */
function assertAllRanAtOnce(ops: Map<string, LoadOp>, outs: Map<string, KvmctlRun>): void {
  for (const [vm, out] of outs) assert.equal(out.code, 0, `${vm}: ${said(out)}`);
  const firstEnd = Math.min(...[...ops.values()].map((o) => o.endedAt ?? Infinity));
  for (const [vm, op] of ops) assert.ok(op.firstProgressAt !== undefined && op.firstProgressAt < firstEnd, `${vm} was moving data before the first operation ended`);
}

/** The ninth is refused while the holder runs, naming the holder's operation id. */
async function assertNinthRefused({ ninth, ops }: Load, outs: Map<string, KvmctlRun>): Promise<KvmctlRun> {
  assert.ok(ninth !== undefined, 'the ninth was started');
  const refused = await ninth;
  const holder = outs.get(BUSY);
  const holderId = String(holder?.result?.id);
  assert.equal(refused.code, 3, `the ninth is refused (exit 3): ${said(refused)}`);
  const error = refused.result?.error as { code?: string; message?: string } | undefined;
  assert.equal(error?.code, 'ABORTED', said(refused));
  assert.ok(String(error?.message).includes(`locked by operation ${holderId} `), `the refusal names the holder ${holderId}: ${error?.message}`);
  assert.ok(refused.endedAt < (ops.get(BUSY)?.endedAt ?? 0), 'the ninth was refused while the holder still ran');
  return refused;
}

/** The cut operation reconnected and completed; no other operation retried. */
async function assertOnlyCutRetried({ cut }: Load, outs: Map<string, KvmctlRun>): Promise<void> {
  assert.ok(cut !== undefined, `${CUT}'s connection was cut during its transfer`);
  assert.equal((await cut).length, 1, `exactly one ssh master (${CUT}'s to hostb) was killed`);
  const cutOut = outs.get(CUT);
  assert.ok(cutOut !== undefined);
  const retries = cutOut.events.filter((e) => e.type === 'retry');
  assert.ok(retries.length >= 1, `${CUT} retried: ${said(cutOut)}`);
  assert.equal(retries[0]?.host, 'hostb');
  assert.equal(cutOut.result?.retries, retries.length);
  for (const [vm, out] of outs) {
    if (vm === CUT) continue;
    assert.deepEqual(
      out.events.filter((e) => e.type === 'retry'),
      [],
      `${vm} did not retry: ${said(out)}`,
    );
    assert.equal(out.result?.retries, undefined, `${vm}: a result without retries`);
  }
}

/** Every copy equals its source; nothing is left behind. */
async function assertCopiesEqualNothingLeft(): Promise<void> {
  for (const vm of [...CLONES, ...SYNCS]) await assertSameDisks(vm);
  const left = (await hostExec('hostb', ['ls', '-A', IMAGES])).split('\n').filter((f) => /kvmclone-(staging|journal)/.test(f));
  assert.deepEqual(left, [], 'no staging or journal file left');
  assert.equal((await hostExec('hostb', ['bash', '-c', 'ls -A /run/kvmclone/forward | grep -c peer- || true'])).trim(), '0', 'no peer socket left');
}

/** The shared history (one SQLite file, nine writers) holds all nine as they ended. */
async function assertHistory(outs: Map<string, KvmctlRun>, refused: KvmctlRun): Promise<void> {
  const list = await kvmctl(['--json', 'ops', 'list'], { stateDir: state });
  assert.equal(list.code, 0, said(list));
  const rows = new Map((list.result?.operations as { id: string; state: string }[]).map((r) => [r.id, r.state]));
  for (const [vm, out] of outs) assert.equal(rows.get(String(out.result?.id)), 'succeeded', `${vm} is recorded as succeeded`);
  assert.equal(rows.get(String(refused.result?.id)), 'failed', 'the ninth is recorded as failed');
}

test('8 operations at once from one config: all complete and verify, a ninth on a busy VM is refused naming the holder, one cut connection retries alone', async () => {
  const pids = { hosta: await agentPid('hosta'), hostb: await agentPid('hostb') };
  const peakRss = { hosta: 0, hostb: 0 };
  const sampling = setInterval(() => {
    for (const host of ['hosta', 'hostb'] as const) {
      memory(pids[host], 'VmRSS').then(
        (rss) => (peakRss[host] = Math.max(peakRss[host], rss)),
        () => undefined,
      );
    }
  }, 200);

  const started = Date.now();
  const load: Load = { ops: startOperations() };
  armNinthAndCut(load);
  const { ops } = load;

  const outs = new Map<string, KvmctlRun>();
  await Promise.all([...ops].map(async ([vm, op]) => outs.set(vm, await op.proc.done)));
  const wall = (Date.now() - started) / 1000;
  clearInterval(sampling);
  const hwm = { hosta: await memory(pids.hosta, 'VmHWM'), hostb: await memory(pids.hostb, 'VmHWM') };

  assertAllRanAtOnce(ops, outs);
  const refused = await assertNinthRefused(load, outs);
  await assertOnlyCutRetried(load, outs);
  await assertCopiesEqualNothingLeft();

  const bytes = [...outs.values()].reduce((n, o) => n + Number(o.result?.bytesOnWire), 0);
  console.log(
    `load: 8 operations in ${wall.toFixed(1)} s, ${(bytes / MiB).toFixed(0)} MiB on the wire (${(bytes / MiB / wall).toFixed(0)} MiB/s aggregate); ` +
      `agent peak RSS hosta ${(hwm.hosta / MiB).toFixed(0)} MiB, hostb ${(hwm.hostb / MiB).toFixed(0)} MiB (sampled RSS max ${(peakRss.hosta / MiB).toFixed(0)} / ${(peakRss.hostb / MiB).toFixed(0)} MiB)`,
  );

  // The agents stayed the same processes (their peaks are checked last, below).
  assert.deepEqual({ hosta: await agentPid('hosta'), hostb: await agentPid('hostb') }, pids, 'no agent restarted');
  await assertHistory(outs, refused);

  measured = hwm;
});

// The bound's history: before the memory governor (agent/memory/memory-governor.ts) the destination peaked at
// 208-238 MiB in this test; with it, and 4 MiB semi-spaces, 186-199 MiB (session 23); with 1 MiB semi-spaces and a
// 164 MiB soft limit, 172-177 (three runs of session 26).
test('under that load neither agent exceeds 200 MiB peak RSS', () => {
  assert.ok(measured !== undefined, 'the load test ran');
  const peaks = `agent peak RSS (VmHWM) hosta ${(measured.hosta / MiB).toFixed(0)} MiB, hostb ${(measured.hostb / MiB).toFixed(0)} MiB`;
  process.stdout.write(`# ${peaks}\n`);
  assert.ok(measured.hosta <= AGENT_RSS_LIMIT && measured.hostb <= AGENT_RSS_LIMIT, `${peaks}: both ≤ 200 MiB`);
});
