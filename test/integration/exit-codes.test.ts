/**
 * Every exit code the README promises, from the built kvmctl as a user runs
 * it: 0 done; 1 failed; 2 usage or config error; 3 refused; 130
 * interrupted — one table over the verbs and their failure modes. The host
 * is `local`: kvmctl reaches a real agent's sockets on this machine
 * directly (no SSH), its libvirt the test driver loaded from a node file
 * (a shut-off VM with its disk under the agent's image root, a running
 * one, and one whose disk file is gone).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentProcess } from '../support/agent-process.js';
import { KVMCTL_MAIN, kvmctl } from '../support/kvmctl.js';
import { startTestDriverAgent, testDriverDomain } from './support/test-driver-agent.js';

let dir: string;
let agent: AgentProcess;
let global: string[];

const domain = (name: string, uuid: string, disk: string, runstate: number): string =>
  testDriverDomain(name, uuid, `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>`, runstate);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmctl-exit-codes-'));
  const images = join(dir, 'images');
  await mkdir(images, { recursive: true });
  await writeFile(join(images, 'off.raw'), '');
  await truncate(join(images, 'off.raw'), 64 << 20);
  const domains = [
    domain('off', '6695eb01-f6a4-8304-79aa-97f2502e1001', join(images, 'off.raw'), 5),
    domain('on', '6695eb01-f6a4-8304-79aa-97f2502e1002', join(images, 'off.raw'), 1),
    domain('lost', '6695eb01-f6a4-8304-79aa-97f2502e1003', join(images, 'gone.raw'), 5),
  ];
  ({ agent, socketFlags: global } = await startTestDriverAgent(dir, images, domains.join('')));
});

after(async () => {
  if (agent.child.exitCode === null) agent.child.kill('SIGTERM');
  await agent.exited;
  await rm(dir, { recursive: true, force: true });
});

/** verb, failure mode, argv (after the global flags), exit code, what the error says. */
const CASES: [string, string, string[], number, RegExp?][] = [
  ['ls', 'done (a VM whose disk is gone is listed with the reason)', ['ls', 'local'], 0],
  ['hosts check', 'done', ['hosts', 'check', 'local'], 0],
  ['ops list', 'done', ['ops', 'list'], 0],
  ['status', 'done, no replicas', ['status'], 0],
  ['points', 'done, none kept', ['points', 'off', '--on', 'local'], 0],
  ['audit', 'done', ['audit', 'local'], 0],
  ['clone', 'usage: no --from', ['clone', 'off', '--to', 'local'], 2],
  ['clone', 'usage: a bad VM name', ['clone', 'off;reboot', '--from', 'local', '--to', 'local', '--name', 'x'], 2, /not a valid VM name/],
  ['clone', 'usage: a bad --bwlimit', ['clone', 'off', '--from', 'local', '--to', 'local', '--name', 'x', '--bwlimit', '50'], 2, /not a rate/],
  ['clone', 'refused: the VM is running', ['clone', 'on', '--from', 'local', '--to', 'local', '--name', 'x', '--yes'], 3, /is running/],
  ['clone', 'refused: the name is taken', ['clone', 'off', '--from', 'local', '--to', 'local', '--name', 'on', '--yes'], 3, /already has a VM named on/],
  ['clone', 'refused: no such VM', ['clone', 'nosuch', '--from', 'local', '--to', 'local', '--name', 'x', '--yes'], 3, /Domain not found/],
  ['clone', 'refused: a disk file is gone', ['clone', 'lost', '--from', 'local', '--to', 'local', '--name', 'x', '--yes'], 3, /does not exist/],
  ['sync', 'refused: the destination VM is running', ['sync', 'off', '--from', 'local', '--to', 'local', '--name', 'on', '--yes'], 3, /is running/],
  ['sync', 'usage: a bad --keep', ['sync', 'off', '--from', 'local', '--to', 'local', '--name', 'on', '--keep', 'many'], 2],
  ['restore', 'refused: no such point', ['restore', 'off', '--on', 'local', '--point', '7'], 3, /no restore point 7/],
  ['ops show', 'refused: no such operation', ['ops', 'show', 'nosuchid'], 3, /no operation nosuchid/],
  ['hosts setup', 'usage: no --package', ['hosts', 'setup', 'local'], 2],
  ['hosts setup', 'usage: not a Debian package', ['hosts', 'setup', 'local', '--package', '/dev/null'], 2, /not a readable Debian package/],
  ['hosts setup', 'usage: root as the SSH account', ['hosts', 'setup', 'local', '--package', '/dev/null', '--account', 'root'], 2, /must not be root/],
  ['gc', 'usage: a bad --older-than', ['gc', 'local', '--older-than', 'forever'], 2, /not a duration/],
  ['replica add', 'usage: a bad --every', ['replica', 'add', 'r1', '--vm', 'off', '--from', 'local', '--to', 'elsewhere', '--every', '1x'], 2, /not an interval/],
  ['replica show', 'refused: no such replica', ['replica', 'show', 'nosuch'], 3, /no replica named nosuch/],
  ['failover', 'refused: no such replica', ['failover', 'nosuch'], 3, /no replica named nosuch/],
  ['any verb', 'usage: an unknown verb', ['frobnicate'], 2],
];

for (const [verb, mode, argv, code, says] of CASES) {
  test(`${verb}, ${mode}: exit ${code}`, async () => {
    const out = await kvmctl(['--json', ...global, ...argv], { stateDir: dir });
    assert.equal(out.code, code, `${out.stdout.slice(-1500)}\n${out.stderr.slice(-1500)}`);
    if (says !== undefined) assert.match(String((out.result?.error as { message?: string } | undefined)?.message), says);
  });
}

test('failed: the agent cannot be reached (exit 1), said in plain words with the detail kept', async () => {
  const out = await kvmctl(['--json', '--agent-socket', join(dir, 'run', 'none.sock'), '--agent-ro-socket', join(dir, 'run', 'none-ro.sock'), 'ls', 'local'], { stateDir: dir });
  assert.equal(out.code, 1, out.stdout);
  assert.match(String((out.result?.error as { message?: string }).message), /^local.*cannot reach .*none\.sock/);
});

test('a bad config file is a usage error (exit 2) for every verb that reads it', async () => {
  const config = join(dir, 'bad.yaml');
  await writeFile(config, 'transfer:\n  streams: 99\n');
  for (const argv of [['ls', 'local'], ['clone', 'off', '--from', 'local', '--to', 'local', '--name', 'x'], ['status']]) {
    const out = await kvmctl(['--json', '--config', config, ...global, ...argv], { stateDir: dir });
    assert.equal(out.code, 2, `${argv.join(' ')}: ${out.stdout}`);
    assert.match(String((out.result?.error as { message?: string }).message), /transfer\.streams/);
  }
});

test('interrupted (exit 130): Ctrl-C while kvmctl waits on a host that does not answer', async () => {
  // An SSH server that accepts and never says a word: the connect waits until kvmctl is interrupted.
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const port = (silent.address() as AddressInfo).port;
    const child = spawn(process.execPath, [KVMCTL_MAIN, '--json', ...global, 'ls', `root@127.0.0.1:${port}`], {
      env: { ...process.env, XDG_STATE_HOME: dir, XDG_CONFIG_HOME: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    await sleep(1500);
    child.kill('SIGINT');
    assert.equal(await exited, 130);
  } finally {
    silent.close();
  }
});

test('ls lists a VM whose disk file is gone, with the reason, and the others as they are', async () => {
  const out = await kvmctl(['--json', ...global, 'ls', 'local'], { stateDir: dir });
  assert.equal(out.code, 0, out.stdout);
  const vms = out.result?.vms as { name: string; state: string; disks: unknown[]; problem?: string }[];
  assert.deepEqual(vms.map((v) => [v.name, v.state]).sort(), [
    ['lost', 'shutoff'],
    ['off', 'shutoff'],
    ['on', 'running'],
  ]);
  assert.match(vms.find((v) => v.name === 'lost')?.problem ?? '', /gone\.raw does not exist/);
  assert.equal(vms.find((v) => v.name === 'off')?.disks.length, 1);
});
