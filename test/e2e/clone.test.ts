/**
 * kvmctl clone on the testbed, real KVM, with both SSH engines: the main
 * clone, a bandwidth-limited one, a same-host clone and the refusals
 * (clone-interrupted.test.ts: a controller killed or interrupted mid-clone).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { domains, imageFiles } from '../support/host-inventory.js';
import { kvmctl, startKvmctl, ONE_QUICK_RETRY, writeKvmctlConfig, type KvmctlRun } from '../support/kvmctl.js';
import { serialOutput } from '../support/serial-console.js';
import { hostAgent, hostExec, hostImagesDir, E2E_DIR, IMAGES } from '../support/testbed.js';
import { downHosts, upHosts } from '../support/e2e-hosts.js';
import { makeTwoDiskVm } from '../support/two-disk-vm.js';

const run = promisify(execFile);
let state: string;

before(async () => {
  state = await upHosts('clone', { hostc: { IMAGES_SIZE_MB: '48' } });
  // The agent killed here stays down: one quick reconnect, then the revert (test/e2e/reconnect.test.ts covers riding it out).
  await writeKvmctlConfig(state, ONE_QUICK_RETRY);
  await makeTwoDiskVm('hosta', 'vm2', { rawGiB: 4, dataMiB: 40 });
});

after(() => downHosts(state));

async function allocated(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}

async function sourceSnapshot(): Promise<string> {
  return hostExec('hosta', ['bash', '-c', `cd ${IMAGES} && sha256sum vm2.qcow2 vm2-base.qcow2 vm2-data.raw && virsh -c qemu:///system dumpxml --inactive vm2 | sha256sum`]);
}

/** The result line of an engine's clone: the disks, their digests, bytes on the wire (holes not sent), the phases. */
function assertCloneResult(out: KvmctlRun, engine: 'openssh' | 'ssh2', destVm: string): Record<string, unknown> {
  const result = out.result;
  assert.ok(result && result.ok === true, JSON.stringify(result));
  assert.equal(result.operation, 'clone');
  assert.equal(result.destVm, destVm);
  const disks = result.disks as { source: string; target: string; bytesTransferred: number; digest: string }[];
  const targets = disks.map((d) => d.target);
  assert.ok(targets.includes(`${IMAGES}/${destVm}.qcow2`) && targets.includes(`${IMAGES}/${destVm}-data.raw`), targets.join(', '));
  // The backing file is copied once; a later clone finds the identical file there and reuses it.
  assert.equal(targets.includes(`${IMAGES}/vm2-base.qcow2`), engine === 'openssh');
  for (const d of disks) assert.match(d.digest, /^blake3:[0-9a-f]{64}$/);
  assert.equal(
    result.bytesOnWire,
    disks.reduce((n, d) => n + d.bytesTransferred, 0),
  );
  assert.ok(result.bytesOnWire < 60 * 1024 * 1024, `holes are not sent (${String(result.bytesOnWire)} bytes on the wire)`);
  assert.ok(
    out.events.some((e) => e.type === 'progress'),
    'progress events were emitted',
  );
  assert.deepEqual(
    out.events.filter((e) => e.type === 'phase').map((e) => e.phase),
    ['PREFLIGHT', 'PLAN', 'TRANSFER', 'VERIFY', 'DEFINE', 'COMMIT', 'START'],
  );
  return result;
}

/** On B: the disks equal A's and as sparse, a new UUID and MAC, the data disk at its new path. */
async function assertCopyOnB(destVm: string, result: Record<string, unknown>): Promise<void> {
  const a = hostImagesDir('hosta');
  const b = hostImagesDir('hostb');
  await run('qemu-img', ['compare', '-U', '-q', join(a, 'vm2-data.raw'), join(b, `${destVm}-data.raw`)]);
  await run('qemu-img', ['compare', '-U', '-q', join(a, 'vm2.qcow2'), join(b, `${destVm}.qcow2`)]);
  const srcAlloc = await allocated(join(a, 'vm2-data.raw'));
  const dstAlloc = await allocated(join(b, `${destVm}-data.raw`));
  assert.ok(Math.abs(dstAlloc - srcAlloc) <= 4 * 1024 * 1024, `allocation ${dstAlloc} close to ${srcAlloc}`);

  const xmlA = await hostExec('hosta', ['virsh', '-c', 'qemu:///system', 'dumpxml', '--inactive', 'vm2']);
  const xmlB = await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'dumpxml', '--inactive', destVm]);
  const uuid = (x: string): string => /<uuid>([^<]+)<\/uuid>/.exec(x)?.[1] ?? '';
  const mac = (x: string): string => /<mac address='([^']+)'/.exec(x)?.[1] ?? '';
  assert.notEqual(uuid(xmlB), uuid(xmlA));
  assert.equal(uuid(xmlB), result.uuid);
  assert.notEqual(mac(xmlB), mac(xmlA));
  assert.match(mac(xmlB), /^52:54:00:/);
  assert.match(xmlB, new RegExp(`${IMAGES}/${destVm}-data.raw`));
}

/** The operation's record, and where the time went. */
async function assertHistoryPhases(result: Record<string, unknown>, engine: 'openssh' | 'ssh2'): Promise<void> {
  const history = await kvmctl(['--json', 'ops', 'show', String(result.id)], { stateDir: state, engine });
  assert.equal(history.code, 0);
  assert.equal((history.result?.record as { state: string }).state, 'succeeded');
  // Where the time went: every phase the clone passed through, in order, summing to about its wall time.
  const phases = result.phases as Record<string, number>;
  assert.deepEqual(Object.keys(phases).slice(0, 6), ['preflight', 'plan', 'transfer', 'verify', 'define', 'commit'], JSON.stringify(phases));
  const sum = Object.values(phases).reduce((a, b) => a + b, 0);
  assert.ok(sum <= Number(result.seconds) + 0.1 && sum >= Number(result.seconds) - 1, `phases ${sum} s of ${String(result.seconds)} s`);
  assert.deepEqual((history.result?.record as { result: { phases: unknown } }).result.phases, phases, 'ops show keeps them');
  const shown = await kvmctl(['ops', 'show', String(result.id)], { stateDir: state, engine });
  assert.match(shown.stdout, /^ {2}phases: preflight [\d.]+ s, plan [\d.]+ s, transfer [\d.]+ s, verify [\d.]+ s, define [\d.]+ s, commit [\d.]+ s/m);
}

for (const engine of ['openssh', 'ssh2'] as const) {
  test(`clone A → B with the ${engine} engine: equal disks, sparse, new identity, boots, source untouched`, async () => {
    const before = await sourceSnapshot();
    const destVm = `vm2-${engine}`;
    const out = await kvmctl(['--json', 'clone', 'vm2', '--from', 'hosta', '--to', 'hostb', '--name', destVm, '--start'], { stateDir: state, engine });
    assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
    const result = assertCloneResult(out, engine, destVm);
    await assertCopyOnB(destVm, result);

    const listed = await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'domstate', destVm]);
    assert.match(listed, /running/);
    const text = await serialOutput('hostb', destVm, 'HI');
    assert.match(text, /HI/, 'the clone boots from its copied chain');
    await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'destroy', destVm]);
    assert.equal(await sourceSnapshot(), before, 'the source VM and its disks are unchanged');

    await assertHistoryPhases(result, engine);
  });
}

test('clone --bwlimit 8M --compress auto: the transfer keeps to the rate (phases), the copy is equal', async () => {
  const rate = 8 * 1024 * 1024;
  const out = await kvmctl(['--json', 'clone', 'vm2', '--from', 'hosta', '--to', 'hostb', '--name', 'vm2-bw', '--bwlimit', '8M', '--compress', 'auto'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  const bytes = Number(out.result?.bytesOnWire);
  const transfer = (out.result?.phases as Record<string, number>).transfer ?? 0;
  // The source banks half a second of its rate at the start; every byte after it waits for the bucket.
  const least = (bytes - rate / 2) / rate;
  assert.ok(bytes > 32 * 1024 * 1024, `${bytes} bytes on the wire`);
  // the plain data the wire bytes carried: never less than them, and the disks' figures add up to it
  const disks = out.result?.disks as { bytesData: number }[];
  assert.equal(
    out.result?.bytesData,
    disks.reduce((n, d) => n + d.bytesData, 0),
  );
  assert.ok(Number(out.result?.bytesData) >= bytes, `${String(out.result?.bytesData)} bytes of data for ${bytes} on the wire`);
  assert.ok(transfer >= least * 0.9, `${bytes} bytes in ${transfer} s: faster than 8 MiB/s (at least ${least.toFixed(2)} s)`);
  assert.ok(transfer <= (bytes / rate) * 1.5 + 2, `${bytes} bytes in ${transfer} s: far slower than the limit`);
  const b = hostImagesDir('hostb');
  await run('qemu-img', ['compare', '-U', '-q', join(hostImagesDir('hosta'), 'vm2-data.raw'), join(b, 'vm2-bw-data.raw')]);
  await run('qemu-img', ['compare', '-U', '-q', join(hostImagesDir('hosta'), 'vm2.qcow2'), join(b, 'vm2-bw.qcow2')]);
  const bad = await kvmctl(['clone', 'vm2', '--from', 'hosta', '--to', 'hostb', '--name', 'vm2-bw2', '--bwlimit', '50'], { stateDir: state });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr + bad.stdout, /--bwlimit: "50" is not a rate/);
});

test('same-host clone under a new name shares the backing file and boots', async () => {
  const out = await kvmctl(['--json', 'clone', 'vm2', '--from', 'hosta', '--to', 'hosta', '--name', 'vm2-twin', '--start'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  const a = hostImagesDir('hosta');
  await run('qemu-img', ['compare', '-U', '-q', join(a, 'vm2.qcow2'), join(a, 'vm2-twin.qcow2')]);
  await run('qemu-img', ['compare', '-U', '-q', join(a, 'vm2-data.raw'), join(a, 'vm2-twin-data.raw')]);
  const info = JSON.parse((await run('qemu-img', ['info', '--output=json', '-U', join(a, 'vm2-twin.qcow2')])).stdout) as { 'full-backing-filename': string };
  assert.equal(info['full-backing-filename'], join(a, 'vm2-base.qcow2'), 'the twin shares the source backing file');
  try {
    assert.match(await hostExec('hosta', ['virsh', '-c', 'qemu:///system', 'domstate', 'vm2-twin']), /running/);
  } finally {
    await hostExec('hosta', ['virsh', '-c', 'qemu:///system', 'destroy', 'vm2-twin']);
  }
});

async function assertRefused(args: string[], code: number, message: RegExp, host = 'hostb', extraGlobal: string[] = []): Promise<void> {
  const domainsBefore = await domains(host);
  const filesBefore = await imageFiles(host);
  const out = await kvmctl(['--json', ...args], { stateDir: state, extraGlobal });
  assert.equal(out.code, code, `${out.stdout}\n${out.stderr}`);
  const error = (out.result?.error ?? {}) as { message?: string };
  assert.match(error.message ?? '', message);
  assert.deepEqual(await domains(host), domainsBefore, 'no domain is left');
  assert.deepEqual(await imageFiles(host), filesBefore, 'no file is left');
}

test('refused: not enough space on the destination', async () => {
  await assertRefused(['clone', 'vm2', '--from', 'hosta', '--to', 'hostc'], 3, /hostc: .* free; the clone needs/, 'hostc');
});

test('refused: the name is taken', async () => {
  await assertRefused(['clone', 'vm2', '--from', 'hosta', '--to', 'hostb', '--name', 'vm2-openssh'], 3, /hostb already has a VM named vm2-openssh/);
});

test('refused: the VM is running', async () => {
  await hostExec('hosta', ['virsh', '-c', 'qemu:///system', 'start', 'vm2']);
  try {
    await assertRefused(
      ['clone', 'vm2', '--from', 'hosta', '--to', 'hostb', '--name', 'vm2-live'],
      3,
      /vm2 on hosta is running: pass --live to copy it from a point-in-time view while it runs, or shut it down first/,
    );
  } finally {
    await hostExec('hosta', ['virsh', '-c', 'qemu:///system', 'destroy', 'vm2']);
  }
});

test('refused: unknown and changed host keys, with the fingerprint', async () => {
  const empty = join(state, 'known_hosts.empty');
  await writeFile(empty, '');
  const fingerprint = (await run('ssh-keygen', ['-lf', join(E2E_DIR, 'hosta', 'ssh', 'host_ed25519_key.pub')])).stdout.split(' ')[1] ?? '';
  assert.match(fingerprint, /^SHA256:/);
  for (const engine of ['openssh', 'ssh2']) {
    const out = await kvmctl(['--json', '--engine', engine, '--known-hosts', empty, 'clone', 'vm2', '--from', 'hosta', '--to', 'hostb', '--name', 'x1'], { stateDir: state });
    assert.equal(out.code, 3, `${engine}: ${out.stdout}\n${out.stderr}`);
    const message = String((out.result?.error as { message?: string } | undefined)?.message);
    assert.ok(message.includes('hosta') && message.includes(fingerprint), `${engine}: ${message}`);
  }
  const changed = join(state, 'known_hosts.changed');
  const otherKey = (await readFile(join(E2E_DIR, 'hostb', 'ssh', 'host_ed25519_key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
  await writeFile(changed, `169.254.201.2 ${otherKey}\n`);
  for (const engine of ['openssh', 'ssh2']) {
    const out = await kvmctl(['--json', '--engine', engine, '--known-hosts', changed, 'clone', 'vm2', '--from', 'hosta', '--to', 'hostb', '--name', 'x2'], { stateDir: state });
    assert.equal(out.code, 3, `${engine}: ${out.stdout}\n${out.stderr}`);
    const message = String((out.result?.error as { message?: string } | undefined)?.message);
    assert.match(message, /chang/i, `${engine}: ${message}`);
    assert.ok(message.includes(fingerprint), `${engine}: ${message}`);
  }
});

// The revert removes a staging file through its agent, or with rm over SSH when the agent is gone: the
// second needs a shell account (root here). The kvmclone account runs no commands: the file is named as left.
for (const login of ['hostb-root', 'hostb'] as const) {
  const asRoot = login === 'hostb-root';
  test(`the destination agent killed mid-transfer, logged in as ${asRoot ? 'root' : 'kvmclone'}: exit 1, no domain left on B, ${asRoot ? 'no staging file left' : 'the staging file left is named with the reason'}`, async () => {
    const vm = asRoot ? 'vm3' : 'vm3k';
    await makeTwoDiskVm('hosta', vm, { rawGiB: 2, dataMiB: 700 });
    const domainsBefore = await domains('hostb');
    const filesBefore = await imageFiles('hostb');
    const clone = startKvmctl(['--json', 'clone', vm, '--from', 'hosta', '--to', login, '--name', vm], { stateDir: state });
    let killed = false;
    clone.onEvent((e) => {
      if (!killed && e.type === 'progress' && Number(e.bytesDone) > 50 * 1024 * 1024) {
        killed = true;
        void hostAgent('hostb', 'kill');
      }
    });
    const out = await clone.done;
    const said = out.stdout
      .split('\n')
      .filter((l) => !l.includes('"progress"'))
      .join('\n');
    assert.ok(killed, `the transfer was under way when the agent was killed: ${out.stdout}`);
    assert.equal(out.code, 1, `${out.stdout}\n${out.stderr}`);
    assert.deepEqual(await domains('hostb'), domainsBefore);
    try {
      if (asRoot) {
        assert.deepEqual(await imageFiles('hostb'), filesBefore, `no staging file is left; kvmctl said:\n${said}`);
      } else {
        const left = (await imageFiles('hostb')).filter((f) => !filesBefore.includes(f));
        assert.ok(left.length > 0 && left.every((f) => f.includes('kvmclone-staging')), `only staging files are left: ${left.join(', ')}`);
        const warnings = out.events.filter((e) => e.type === 'warning').map((e) => String(e.message));
        for (const f of left) {
          assert.ok(
            warnings.some((w) => w.includes(`${IMAGES}/${f} is left on hostb`) && /without a shell cannot run rm/.test(w)),
            `${f} is named with the reason; kvmctl said:\n${said}`,
          );
        }
        await hostExec('hostb', ['rm', '-f', '--', ...left.map((f) => `${IMAGES}/${f}`)]);
      }
    } finally {
      await hostAgent('hostb', 'start');
    }
  });
}
