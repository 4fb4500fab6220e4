/**
 * `kvmctl delete VM --on HOST [--storage] [--yes]` from the built kvmctl,
 * against a real agent (reached as `local`) whose libvirt is the test driver
 * loaded from a node file, over real image files: a running VM is refused;
 * without --yes (no terminal) nothing is deleted; --storage removes the
 * VM's own image and keeps — saying why — its backing file and its
 * read-only ISO; an image another domain uses makes the agent refuse with
 * --storage, while a plain delete keeps it; every deletion is in the
 * history. (The test driver forgets a domain's undefinition between the
 * agent's libvirt calls, so that the domain is gone is checked on real
 * libvirt in test/e2e/one-hop.test.ts.)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentProcess } from '../support/agent-process.js';
import { kvmctl } from '../support/kvmctl.js';
import { startTestDriverAgent, testDriverDomain } from './support/test-driver-agent.js';
import { run } from './support/image-files.js';

let dir: string;
let images: string;
let agent: AgentProcess;
let global: string[];

const disk = (path: string, target: string, extra = ''): string =>
  `<disk type='file' device='${extra.includes('cdrom') ? 'cdrom' : 'disk'}'><driver name='qemu' type='${path.endsWith('.qcow2') ? 'qcow2' : 'raw'}'/><source file='${path}'/><target dev='${target}' bus='${extra.includes('cdrom') ? 'sata' : 'virtio'}'/>${extra.includes('readonly') ? '<readonly/>' : ''}</disk>`;
const domain = (name: string, n: number, disks: string, runstate: number): string =>
  testDriverDomain(name, `6695eb01-f6a4-8304-79aa-97f2502e20${String(n).padStart(2, '0')}`, disks, runstate);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmctl-delete-'));
  images = join(dir, 'images');
  await mkdir(images, { recursive: true });
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', join(images, 'base.qcow2'), '64M']);
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', join(images, 'base.qcow2'), '-F', 'qcow2', join(images, 'scratch.qcow2')]);
  for (const f of ['install.iso', 'shared.raw', 'busy.raw']) await writeFile(join(images, f), Buffer.alloc(1 << 20));
  const domains = [
    domain('scratch', 1, disk(join(images, 'scratch.qcow2'), 'vda') + disk(join(images, 'install.iso'), 'sda', 'cdrom readonly'), 5),
    domain('keeper', 2, disk(join(images, 'shared.raw'), 'vda'), 5),
    domain('other', 3, disk(join(images, 'shared.raw'), 'vda'), 5),
    domain('busy', 4, disk(join(images, 'busy.raw'), 'vda'), 1),
  ];
  let socketFlags: string[];
  ({ agent, socketFlags } = await startTestDriverAgent(dir, images, domains.join('')));
  global = ['--json', ...socketFlags];
});

after(async () => {
  if (agent.child.exitCode === null) agent.child.kill('SIGTERM');
  await agent.exited;
  await rm(dir, { recursive: true, force: true });
});

async function vms(): Promise<string[]> {
  const out = await kvmctl([...global, 'ls', 'local'], { stateDir: dir });
  return (out.result?.vms as { name: string }[]).map((v) => v.name).sort();
}

const message = (out: { result?: Record<string, unknown> }): string => String((out.result?.error as { message?: string } | undefined)?.message);

test('a running VM is refused (exit 3); without --yes and no terminal nothing is deleted (exit 3)', async () => {
  const busy = await kvmctl([...global, 'delete', 'busy', '--on', 'local', '--yes'], { stateDir: dir });
  assert.equal(busy.code, 3);
  assert.match(message(busy), /busy on local is running: shut it down/);
  const unconfirmed = await kvmctl([...global, 'delete', 'scratch', '--on', 'local', '--storage'], { stateDir: dir });
  assert.equal(unconfirmed.code, 3);
  assert.match(message(unconfirmed), /cannot be undone: confirm, or pass --yes/);
  assert.deepEqual(await vms(), ['busy', 'keeper', 'other', 'scratch']);
  await access(join(images, 'scratch.qcow2'));
});

test('--storage removes the image only the VM uses and keeps its backing file and its ISO, saying why', async () => {
  const out = await kvmctl([...global, 'delete', 'scratch', '--on', 'local', '--storage', '--yes'], { stateDir: dir });
  assert.equal(out.code, 0, out.stdout);
  assert.deepEqual(out.result?.removedPaths, [join(images, 'scratch.qcow2')]);
  const kept = out.result?.kept as { path: string; reason: string }[];
  assert.match(kept.find((k) => k.path === join(images, 'base.qcow2'))?.reason ?? '', /backing file of vda \(never removed/);
  assert.match(kept.find((k) => k.path === join(images, 'install.iso'))?.reason ?? '', /read-only/);
  await assert.rejects(access(join(images, 'scratch.qcow2')), { code: 'ENOENT' });
  await access(join(images, 'base.qcow2'));
  await access(join(images, 'install.iso'));
});

test('an image another domain uses: --storage is refused naming it (exit 3); a plain delete keeps it', async () => {
  const refused = await kvmctl([...global, 'delete', 'keeper', '--on', 'local', '--storage', '--yes'], { stateDir: dir });
  assert.equal(refused.code, 3, refused.stdout);
  assert.match(message(refused), /also used by domain 'other'/);
  await access(join(images, 'shared.raw'));
  const plain = await kvmctl([...global, 'delete', 'keeper', '--on', 'local', '--yes'], { stateDir: dir });
  assert.equal(plain.code, 0, plain.stdout);
  assert.deepEqual(plain.result?.removedPaths, []);
  await access(join(images, 'shared.raw'));
  assert.deepEqual(plain.result?.kept, [{ path: join(images, 'shared.raw'), reason: 'kept: delete without --storage' }]);
});

test('no such VM is refused (exit 3); every deletion is in the history', async () => {
  const none = await kvmctl([...global, 'delete', 'nosuch', '--on', 'local', '--yes'], { stateDir: dir });
  assert.equal(none.code, 3);
  const ops = await kvmctl([...global, 'ops', 'list'], { stateDir: dir });
  const deletes = (ops.result?.operations as { kind: string; vm: string; state: string }[]).filter((o) => o.kind === 'delete');
  assert.deepEqual(deletes.map((o) => `${o.vm} ${o.state}`).sort(), ['busy failed', 'keeper failed', 'keeper succeeded', 'nosuch failed', 'scratch failed', 'scratch succeeded']);
});
