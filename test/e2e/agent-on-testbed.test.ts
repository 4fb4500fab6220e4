/**
 * The agent inside two simulated KVM hosts, reached the way kvmctl reaches it:
 * OpenSSH streamlocal forwards through each host's sshd. Real libvirtd, real
 * KVM, real qemu-img, real sparse files.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import { chunkHash } from '../../shared/block-hash.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { relayImage } from '../support/relay-image.js';
import { hostAgent, hostExec, hostImagesDir, testbedScript, IMAGES } from '../support/testbed.js';
import { downHosts, upHosts } from '../support/e2e-hosts.js';
import { forwardedAgent, type ForwardedAgent } from '../support/forwarded-agent.js';
import { serialOutput } from '../support/serial-console.js';

const run = promisify(execFile);
const T = { deadlineMs: 60_000 };

let state: string;
/** The forwards to hosta's and hostb's agents, and their clients as a and b. */
const agents: ForwardedAgent[] = [];
let a: AgentClients;
let b: AgentClients;

before(async () => {
  state = await upHosts('agent');
  for (const host of ['hosta', 'hostb']) agents.push(await forwardedAgent(host));
  [a, b] = agents.map((agent) => agent.clients) as [AgentClients, AgentClients];
});

after(async () => {
  for (const agent of agents) await agent.close();
  await downHosts(state);
});

test('through SSH the agent answers health and Info with real host facts', async () => {
  const info = await unaryCall(a.info, a.info.getInfo, {}, T);
  assert.deepEqual(info.apiVersions, ['v1']);
  assert.deepEqual(info.imageRoots, [IMAGES]);
  assert.ok(info.host);
  assert.match(info.host.libvirtVersion, /^\d+\.\d+\.\d+$/);
  assert.match(info.host.qemuVersion, /^\d+\.\d+\.\d+$/);
  assert.equal(info.host.arch, 'x86_64');
  assert.ok(info.host.cpus >= 1 && info.host.memoryBytes > 0);
  const hostname = (await hostExec('hosta', ['hostname'])).trim();
  assert.equal(info.host.hostname, hostname);
});

test('a real VM: listed, described, started (under KVM where the machine has it), destroyed', async () => {
  await testbedScript('make-vm.sh', ['hosta', 'vm1']);
  const list = await unaryCall(a.domain, a.domain.listDomains, {}, T);
  const vm = list.domains.find((d) => d.name === 'vm1');
  assert.ok(vm, JSON.stringify(list.domains));
  assert.equal(vm.state, 'DOMAIN_STATE_SHUTOFF');
  assert.equal(vm.persistent, true);
  const described = await unaryCall(a.domain, a.domain.describeDomain, { name: 'vm1' }, T);
  assert.match(described.xml, /<name>vm1<\/name>/);
  assert.equal(described.disks.length, 1);
  const disk = described.disks[0];
  assert.ok(disk);
  assert.equal(disk.path, `${IMAGES}/vm1.qcow2`);
  assert.equal(disk.format, 'qcow2');
  assert.ok(disk.virtualSize > 0 && disk.allocatedSize > 0);
  const started = await unaryCall(a.domain, a.domain.startDomain, { name: 'vm1' }, T);
  assert.equal(started.domain?.state, 'DOMAIN_STATE_RUNNING');
  const text = await serialOutput('hosta', 'vm1', 'HI');
  assert.match(text, /HI/, 'the guest printed HI on its serial port');
  await rejectsWithStatus(unaryCall(a.domain, a.domain.undefineDomain, { name: 'vm1', storage: 'STORAGE_POLICY_KEEP' }, T), 'FAILED_PRECONDITION');
  const destroyed = await unaryCall(a.domain, a.domain.destroyDomain, { name: 'vm1' }, T);
  assert.equal(destroyed.domain?.state, 'DOMAIN_STATE_SHUTOFF');
  const listB = await unaryCall(b.domain, b.domain.listDomains, {}, T);
  assert.ok(!listB.domains.some((d) => d.name === 'vm1'), 'host B has its own libvirt');
});

test('free space is statfs bavail of the images directory', async () => {
  const space = await unaryCall(b.storage, b.storage.getFreeSpace, { path: `${IMAGES}/not-yet/file.raw` }, T);
  assert.equal(space.path, IMAGES);
  const df = (await hostExec('hostb', ['stat', '-f', '-c', '%a %S', IMAGES])).trim().split(' ').map(Number);
  const expected = (df[0] ?? 0) * (df[1] ?? 0);
  assert.ok(Math.abs(space.availableBytes - expected) < 64 * 1024 * 1024, `${space.availableBytes} vs ${expected}`);
});

async function allocated(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}

test('a 1 GiB sparse raw image streams A → B into a staging file: identical, still sparse, committed atomically', async () => {
  // 48 scattered 1 MiB pieces and, in the gaps between them, 48 scattered 64 KiB pieces of random data in a 1 GiB hole.
  const script = [
    'set -e; f=/var/lib/libvirt/images/big.raw; truncate -s 1G $f',
    'for i in $(seq 0 47); do dd if=/dev/urandom of=$f bs=1M count=1 seek=$((i*20+3)) conv=notrunc status=none; done',
    'for i in $(seq 0 47); do dd if=/dev/urandom of=$f bs=64K count=1 seek=$(((i*20+13)*16+i%16)) conv=notrunc status=none; done',
  ].join('; ');
  await hostExec('hosta', ['bash', '-c', script]);
  const source = join(hostImagesDir('hosta'), 'big.raw');
  const relay = await relayImage(a, `${IMAGES}/big.raw`, b, `${IMAGES}/big-copy.raw`);
  assert.equal(relay.dataBytes, 48 * 1024 * 1024 + 48 * 64 * 1024, 'only data is sent');
  const stagingOutside = join(hostImagesDir('hostb'), relay.staging.stagingPath.slice(IMAGES.length + 1));
  assert.ok((await allocated(stagingOutside)) <= relay.dataBytes + 8 * 1024 * 1024, 'the staging file is sparse');
  await assert.rejects(stat(join(hostImagesDir('hostb'), 'big-copy.raw')), 'the target does not exist before the commit');
  await unaryCall(b.disk, b.disk.commitStaging, { targetPath: `${IMAGES}/big-copy.raw`, stagingId: relay.staging.stagingId, replace: false }, T);
  const target = join(hostImagesDir('hostb'), 'big-copy.raw');
  await run('qemu-img', ['compare', '-q', source, target]);
  assert.equal((await stat(target)).size, 1024 * 1024 * 1024);
  assert.ok(Math.abs((await allocated(target)) - (await allocated(source))) <= 4 * 1024 * 1024, 'allocation matches the source');
  const [da, db] = await Promise.all([
    unaryCall(a.disk, a.disk.digestImage, { path: `${IMAGES}/big.raw` }, T),
    unaryCall(b.disk, b.disk.digestImage, { path: `${IMAGES}/big-copy.raw` }, T),
  ]);
  assert.equal(da.digest, db.digest);
  await assert.rejects(stat(stagingOutside), 'no staging file is left after commit');
});

test('a qcow2 image with data streams A → B and qemu-img compare says equal', async () => {
  const script = [
    'set -e; f=/var/lib/libvirt/images/data.qcow2; qemu-img create -q -f qcow2 $f 256M',
    'qemu-io -f qcow2 -c "write -P 0x5a 0 3M" -c "write -P 0xa5 100M 1M" -c "write -z 120M 1M" $f >/dev/null',
  ].join('; ');
  await hostExec('hosta', ['bash', '-c', script]);
  const relay = await relayImage(a, `${IMAGES}/data.qcow2`, b, `${IMAGES}/data.qcow2`);
  await unaryCall(b.disk, b.disk.commitStaging, { targetPath: `${IMAGES}/data.qcow2`, stagingId: relay.staging.stagingId, replace: false }, T);
  await run('qemu-img', ['compare', '-q', join(hostImagesDir('hosta'), 'data.qcow2'), join(hostImagesDir('hostb'), 'data.qcow2')]);
  const info = await unaryCall(b.disk, b.disk.statImage, { path: `${IMAGES}/data.qcow2` }, T);
  assert.equal(info.format, 'qcow2');
  assert.equal(info.virtualSize, 256 * 1024 * 1024);
});

test('bad input gets a clear status, touches nothing outside the roots, and the agent stays up', async () => {
  await hostExec('hostb', ['bash', '-c', 'echo canary > /root/canary; ln -sf /root/canary /var/lib/libvirt/images/escape.raw']);
  const canaryBefore = await hostExec('hostb', ['sha256sum', '/root/canary']);
  await rejectsWithStatus(unaryCall(b.disk, b.disk.statImage, { path: '/etc/passwd' }, T), 'PERMISSION_DENIED');
  await rejectsWithStatus(unaryCall(b.disk, b.disk.statImage, { path: `${IMAGES}/escape.raw` }, T), 'PERMISSION_DENIED');
  await rejectsWithStatus(unaryCall(b.disk, b.disk.statImage, { path: `${IMAGES}/../../../etc/passwd` }, T), 'INVALID_ARGUMENT');
  await rejectsWithStatus(unaryCall(b.domain, b.domain.describeDomain, { name: 'vm1;rm -rf /' }, T), 'INVALID_ARGUMENT');
  await rejectsWithStatus(unaryCall(b.domain, b.domain.describeDomain, { name: '$(touch /tmp/pwned)' }, T), 'INVALID_ARGUMENT');

  const write = (messages: object[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const call = b.disk.writeRanges({ deadline: Date.now() + 30_000 }, (err, res) => (err ? reject(err) : resolve(res)));
      for (const m of messages) call.write(m);
      call.end();
    });
  const data = Buffer.alloc(65536, 7);
  const open = { open: { targetPath: `${IMAGES}/bad.raw`, size: 1024 * 1024, stagingId: '' } };
  await rejectsWithStatus(write([open, { data: { offset: 0, data, hash: chunkHash(Buffer.alloc(65536, 8)) } }]), 'DATA_LOSS');
  await rejectsWithStatus(write([open, { data: { offset: 1024 * 1024 - 4096, data, hash: chunkHash(data) } }]), 'OUT_OF_RANGE');
  await rejectsWithStatus(write([{ open: { targetPath: '/root/evil.raw', size: 4096, stagingId: '' } }]), 'PERMISSION_DENIED');
  await rejectsWithStatus(write([{ open: { targetPath: `${IMAGES}/escape.raw`, size: 4096, stagingId: '' } }]), 'PERMISSION_DENIED');
  const huge = Buffer.alloc(9 * 1024 * 1024, 1);
  await rejectsWithStatus(write([open, { data: { offset: 0, data: huge, hash: chunkHash(huge) } }]), 'RESOURCE_EXHAUSTED');

  // A message over the size limit is refused by grpc-js itself, before the handler has removed its staging file:
  // the removal follows the cancel, so give it up to ~20 s (it took over 5 s once on a loaded machine).
  let left: string[] = [];
  for (let i = 0; i < 60; i += 1) {
    left = (await hostExec('hostb', ['ls', '-A', IMAGES])).split('\n').filter((f) => f.includes('kvmclone-staging'));
    if (left.length === 0) break;
    await sleep(250);
  }
  assert.deepEqual(left, [], 'no staging file is left behind by refused writes');
  assert.equal(await hostExec('hostb', ['sha256sum', '/root/canary']), canaryBefore);
  await assert.rejects(hostExec('hostb', ['test', '-e', '/tmp/pwned']));
  await assert.rejects(hostExec('hostb', ['test', '-e', '/root/evil.raw']));
  assert.match(await hostAgent('hostb', 'status'), /^\d+/);
  const info = await unaryCall(b.info, b.info.getInfo, {}, T);
  assert.deepEqual(info.apiVersions, ['v1']);
});
