/**
 * The libvirt adapter, and the Domain and Storage services over it, against a
 * real libvirtd: a throwaway one in a private mount namespace
 * (libvirt-sandbox.sh), with real QEMU (TCG) booting a 512-byte boot sector
 * that prints "HI" on its serial port. Needs root, libvirtd, QEMU and
 * qemu-img; skipped with a reason otherwise.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCb, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { access, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { LibvirtAdapter } from '../../agent/libvirt/libvirt-adapter.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { KvmcloneError } from '../../shared/errors.js';
import { unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import { serveLibvirtServices } from '../support/domain-service-server.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { BOOT_SECTOR, missingSandboxPrerequisite, sandboxDownLeavingNothing, sandboxRestart, sandboxUp } from './support/libvirt-sandbox.js';

const execFile = promisify(execFileCb);
const skip = missingSandboxPrerequisite();

let tmp: string;
let sandbox: string;
let images: string;
let uri: string;
let adapter: LibvirtAdapter;
let roots: ImageRoots;
let server: grpc.Server;
let clients: AgentClients;
const call = { deadlineMs: 30_000 };
/** The adapter's log lines (JSON). */
const adapterLog: string[] = [];
const UUID_1 = '5a0d3c1e-7f2b-4c9d-8e6a-1b2c3d4e5f60';
const UUID_OTHER = '6b1e4d2f-8a3c-4dae-9f7b-2c3d4e5f6071';
const UUID_3 = '7c2f5e3a-9b4d-4ebf-8a8c-3d4e5f607182';

function virsh(...args: string[]): Promise<string> {
  return execFile('virsh', ['-q', '-c', uri, ...args]).then((r) => r.stdout);
}

function vmXml(name: string, uuid: string, disk: string): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'><source path='${join(images, `${name}-serial.log`)}'/><target port='0'/></serial>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>`;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (err) {
    return err instanceof KvmcloneError ? err.code : `raw ${String(err)}`;
  }
}

before(async () => {
  if (skip) return;
  tmp = await mkdtemp('/tmp/kvmclone-lv-');
  sandbox = join(tmp, 'sandbox');
  images = join(tmp, 'images');
  await mkdir(images);
  uri = await sandboxUp(sandbox);
  adapter = new LibvirtAdapter({ uri, log: pino({ level: 'info' }, { write: (line: string) => void adapterLog.push(line) }) });
  roots = await ImageRoots.open([images]);
  ({ server, clients } = await serveLibvirtServices(join(tmp, 'agent.sock'), { libvirt: adapter, roots }));
  execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', BOOT_SECTOR, join(images, 'base.qcow2')]);
  // SeaBIOS does not boot a 512-byte disk
  execFileSync('qemu-img', ['resize', '-q', '-f', 'qcow2', join(images, 'base.qcow2'), '1M']);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', 'base.qcow2', join(images, 'vm1.qcow2')]);
});

after(async () => {
  if (skip || !tmp) return;
  clients?.close();
  server?.forceShutdown();
  await adapter?.close();
  await sandboxDownLeavingNothing(sandbox, tmp);
});

test('hostFacts: hostname, CPUs, memory, CPU model, libvirt and QEMU versions', { skip }, async () => {
  const host = await adapter.hostFacts();
  assert.ok(host.hostname.length > 0);
  assert.ok(host.cpus > 0);
  assert.ok(host.memoryBytes > 0 && host.freeMemoryBytes > 0 && host.freeMemoryBytes <= host.memoryBytes);
  assert.equal(host.arch, 'x86_64');
  assert.ok(host.cpuModel.length > 0);
  assert.match(host.libvirtVersion, /^\d+\.\d+\.\d+$/);
  assert.match(host.qemuVersion, /^\d+\.\d+/);
});

test('define, list, read back and describe a VM with a backing chain', { skip }, async () => {
  const record = await adapter.defineDomain(vmXml('it-vm1', UUID_1, join(images, 'vm1.qcow2')));
  assert.deepEqual(record, { name: 'it-vm1', uuid: UUID_1, state: 'shutoff', persistent: true, vcpus: 1, memoryBytes: 64 * 1024 * 1024 });
  assert.deepEqual(
    (await adapter.listDomains()).map((d) => d.name),
    ['it-vm1'],
  );
  assert.match(await adapter.getDomainXml('it-vm1'), /<name>it-vm1<\/name>/);
  const described = await unaryCall(clients.domain, clients.domain.describeDomain, { name: 'it-vm1' }, call);
  assert.equal(described.domain?.uuid, UUID_1);
  const [vda] = described.disks;
  assert.ok(vda && described.disks.length === 1);
  assert.deepEqual([vda.target, vda.device, vda.path, vda.format, vda.virtualSize], ['vda', 'disk', join(images, 'vm1.qcow2'), 'qcow2', 1024 * 1024]);
  assert.equal(vda.backingReference, 'base.qcow2');
  assert.deepEqual(
    vda.backingChain.map((b) => [b.path, b.format]),
    [[join(images, 'base.qcow2'), 'qcow2']],
  );
});

test('start boots it; shutdown is DEADLINE_EXCEEDED for a guest without ACPI; destroy stops it', { skip }, async () => {
  const started = await unaryCall(clients.domain, clients.domain.startDomain, { name: 'it-vm1' }, call);
  assert.equal(started.domain?.state, 'DOMAIN_STATE_RUNNING');
  const serial = join(images, 'it-vm1-serial.log');
  let output = '';
  for (let i = 0; i < 100 && !output.includes('HI'); i++) {
    await sleep(100);
    output = await readFile(serial, 'utf8').catch(() => '');
  }
  assert.match(output, /HI/, 'the boot sector ran');
  assert.equal(await codeOf(adapter.startDomain('it-vm1')), 'FAILED_PRECONDITION', 'libvirt: already running');
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.shutdownDomain, { name: 'it-vm1', waitSeconds: 1 }, call), 'DEADLINE_EXCEEDED');
  assert.equal((await adapter.getDomain('it-vm1')).state, 'running');
  const destroyed = await unaryCall(clients.domain, clients.domain.destroyDomain, { name: 'it-vm1' }, call);
  assert.equal(destroyed.domain?.state, 'DOMAIN_STATE_SHUTOFF');
  assert.equal(await codeOf(adapter.destroyDomain('it-vm1')), 'FAILED_PRECONDITION', 'libvirt: not running');
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.destroyDomain, { name: 'it-vm1' }, call), 'FAILED_PRECONDITION');
});

test('libvirt failures come out as the right codes', { skip }, async () => {
  assert.equal(await codeOf(adapter.getDomain('no-such-vm')), 'NOT_FOUND');
  assert.equal(await codeOf(adapter.getDomainXml('no-such-vm')), 'NOT_FOUND');
  assert.equal(await codeOf(adapter.undefineDomain('no-such-vm', false)), 'NOT_FOUND', 'through virsh');
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.describeDomain, { name: 'no-such-vm' }, call), 'NOT_FOUND');
  assert.equal(await codeOf(adapter.defineDomain(vmXml('it-vm1', UUID_OTHER, join(images, 'vm1.qcow2')))), 'ALREADY_EXISTS', 'same name, other UUID');
  assert.equal(await codeOf(adapter.defineDomain(vmXml('it-vm9', UUID_1, join(images, 'vm1.qcow2')))), 'ALREADY_EXISTS', 'same UUID, other name');
  assert.equal(await codeOf(adapter.defineDomain('<domain><name>x</name>')), 'INVALID_ARGUMENT');
  assert.equal(await codeOf(adapter.defineDomain("<domain type='qemu'><name>x</name></domain>")), 'INVALID_ARGUMENT');
  const aborted = AbortSignal.abort();
  await assert.rejects(adapter.listDomains({ signal: aborted }), { name: 'AbortError' });
  const down = new LibvirtAdapter({ uri: `qemu:///system?socket=${join(tmp, 'no-such.sock')}`, log: pino({ level: 'silent' }), libvirtdWaitMs: 1000 });
  assert.equal(await codeOf(down.listDomains()), 'UNAVAILABLE');
  assert.equal(await codeOf(down.listPools()), 'UNAVAILABLE', 'through virsh');
  await down.close();
});

test('DefineDomain through the service refuses a disk outside the image roots', { skip }, async () => {
  const xml = vmXml('it-evil', UUID_OTHER, '/etc/shadow').replace("type='qcow2'", "type='raw'");
  const details = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.defineDomain, { xml }, call), 'PERMISSION_DENIED');
  assert.match(details, /\/etc\/shadow is not a place this agent lets a VM reach/);
  assert.ok(!(await adapter.listDomains()).some((d) => d.name === 'it-evil'));
});

test('the adapter reconnects when libvirtd restarts', { skip }, async () => {
  assert.equal((await adapter.getDomain('it-vm1')).name, 'it-vm1');
  const connects = (): number => adapterLog.filter((l) => l.includes('connected to libvirtd')).length;
  assert.equal(connects(), 1, 'one connection so far, reused by every call');
  await sandboxRestart(sandbox);
  assert.equal((await adapter.getDomain('it-vm1')).name, 'it-vm1', 'the first call after the restart succeeds');
  assert.ok(
    adapterLog.some((l) => l.includes('libvirt connection lost: reconnecting')),
    'it met the dead connection and reconnected',
  );
  assert.equal(connects(), 2);
  assert.equal((await adapter.listDomains()).length, 1);
});

test('calls made while libvirtd is down for 3 s wait for it and succeed, through the binding and through virsh', { skip }, async () => {
  const answers = (): boolean => {
    try {
      execFileSync('virsh', ['-q', '-c', uri, 'version'], { stdio: 'ignore', timeout: 10_000 });
      return true;
    } catch {
      return false;
    }
  };
  const restart = sandboxRestart(sandbox, 3);
  for (let i = 0; i < 200 && answers(); i++) await sleep(50);
  assert.equal(answers(), false, 'libvirtd is down');
  const started = Date.now();
  const [domain, pools] = await Promise.all([adapter.getDomain('it-vm1'), adapter.listPools()]);
  assert.equal(domain.name, 'it-vm1');
  assert.ok(Array.isArray(pools));
  assert.ok(Date.now() - started > 500, 'the calls waited for libvirtd');
  await restart;
  assert.ok(
    adapterLog.some((l) => l.includes('libvirt connection lost: reconnecting') && l.includes('pauseMs')),
    'the wait is logged',
  );
});

test('storage pools, active and inactive', { skip }, async () => {
  const poolDir = join(images, 'pool');
  await mkdir(poolDir);
  await virsh('pool-define-as', '--name', 'it-pool', '--type', 'dir', '--target', poolDir);
  await virsh('pool-start', '--pool', 'it-pool');
  await virsh('pool-define-as', '--name', 'it-idle', '--type', 'dir', '--target', join(images, 'idle'));
  const pools = await adapter.listPools();
  const active = pools.find((p) => p.name === 'it-pool');
  const idle = pools.find((p) => p.name === 'it-idle');
  assert.ok(active && idle, `pools: ${pools.map((p) => p.name).join(', ')}`);
  assert.deepEqual([active.type, active.path, active.active, active.autostart], ['dir', poolDir, true, false]);
  assert.match(active.uuid, /^[0-9a-f-]{36}$/);
  assert.ok(active.capacityBytes > 0 && active.availableBytes > 0 && active.availableBytes <= active.capacityBytes);
  assert.equal(idle.active, false);
  const listed = await unaryCall(clients.storage, clients.storage.listPools, {}, call);
  assert.ok(listed.pools.some((p) => p.name === 'it-pool' && p.active));
});

test('undefine KEEP leaves the images; REMOVE deletes the VM image and keeps its backing file', { skip }, async () => {
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.undefineDomain, { name: 'it-vm1' }, call), 'INVALID_ARGUMENT');
  const kept = await unaryCall(clients.domain, clients.domain.undefineDomain, { name: 'it-vm1', storage: 'STORAGE_POLICY_KEEP' }, call);
  assert.deepEqual(kept.removedPaths, []);
  assert.equal(await codeOf(adapter.getDomain('it-vm1')), 'NOT_FOUND');
  await access(join(images, 'vm1.qcow2'));

  const defined = await unaryCall(clients.domain, clients.domain.defineDomain, { xml: vmXml('it-vm2', UUID_OTHER, join(images, 'vm1.qcow2')) }, call);
  assert.equal(defined.domain?.name, 'it-vm2');
  await unaryCall(clients.domain, clients.domain.startDomain, { name: 'it-vm2' }, call);
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.undefineDomain, { name: 'it-vm2', storage: 'STORAGE_POLICY_REMOVE' }, call), 'FAILED_PRECONDITION');
  // a shut-off domain named after the running one's ID: virsh would take "N" as that ID
  const id = (await virsh('domid', '--domain', 'it-vm2')).trim();
  assert.match(id, /^\d+$/);
  await adapter.defineDomain(vmXml(id, UUID_3, join(images, 'vm1.qcow2')));
  await unaryCall(clients.domain, clients.domain.undefineDomain, { name: id, storage: 'STORAGE_POLICY_KEEP' }, call);
  assert.equal(await codeOf(adapter.getDomain(id)), 'NOT_FOUND');
  const running = await adapter.getDomain('it-vm2');
  assert.deepEqual([running.state, running.persistent], ['running', true], 'the domain with that ID was not touched');
  await unaryCall(clients.domain, clients.domain.destroyDomain, { name: 'it-vm2' }, call);
  const removed = await unaryCall(clients.domain, clients.domain.undefineDomain, { name: 'it-vm2', storage: 'STORAGE_POLICY_REMOVE' }, call);
  assert.deepEqual(removed.removedPaths, [join(images, 'vm1.qcow2')]);
  await assert.rejects(access(join(images, 'vm1.qcow2')), { code: 'ENOENT' });
  await access(join(images, 'base.qcow2'));
  assert.deepEqual(await adapter.listDomains(), []);
});
