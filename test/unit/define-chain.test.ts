/**
 * DefineDomain and what a definition's images name (hole 2 of issue 10):
 * every file disk's chain from its qcow2 headers stays under the roots and
 * agrees with the `<backingStore>` chain the XML declares — refused before
 * libvirt sees the definition, naming the disk and the path. Over the fake
 * libvirt through a real gRPC server, with real images made by qemu-img.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import { declaredChain } from '../../agent/images/definition-chains.js';
import { parseXml } from '../../shared/xml/parse-xml.js';
import { childrenNamed } from '../../shared/xml/xml-tree.js';
import { unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { serveLibvirtServices } from '../support/domain-service-server.js';
import { makeRootAndOutside } from '../support/root-and-outside.js';

let base: string;
let root: string;
let outside: string;
let fake: FakeLibvirt;
let server: grpc.Server;
let clients: AgentClients;
const call = { deadlineMs: 30_000 };

function qemuImg(...args: string[]): void {
  execFileSync('qemu-img', args);
}

before(async () => {
  const layout = await makeRootAndOutside('kvmclone-define-chain-');
  ({ dir: base, images: root, outside } = layout);
  fake = new FakeLibvirt();
  ({ server, clients } = await serveLibvirtServices(join(base, 'agent.sock'), { libvirt: fake, roots: layout.roots }));
});

after(async () => {
  clients.close();
  server.forceShutdown();
  await rm(base, { recursive: true, force: true });
});

/** A minimal domain with one qcow2 disk vda at `path`, and `backing` as its <backingStore> element(s) if given. */
function domainXml(name: string, path: string, backing = ''): string {
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${path}'/>${backing}<target dev='vda' bus='virtio'/></disk></devices></domain>`;
}

function store(path: string, format = 'qcow2', inner = '<backingStore/>'): string {
  return `<backingStore type='file'><format type='${format}'/><source file='${path}'/>${inner}</backingStore>`;
}

async function refused(xml: string, code: 'PERMISSION_DENIED' | 'FAILED_PRECONDITION', match: RegExp): Promise<void> {
  const before = fake.calls.filter((c) => c === 'defineDomain').length;
  const details = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.defineDomain, { xml }, call), code);
  assert.match(details, match);
  assert.equal(fake.calls.filter((c) => c === 'defineDomain').length, before, 'libvirt never saw the definition');
}

test('a qcow2 whose header names a backing file outside the roots is refused, naming the disk and the path', async () => {
  const secret = join(outside, 'other-vm.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', secret, '1M');
  const disk = join(root, 'sneaky.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-b', secret, '-F', 'qcow2', disk);
  await refused(domainXml('sneaky', disk), 'PERMISSION_DENIED', /disk vda: .*other-vm\.qcow2.*outside the agent's image roots/);
  // Two links down: the base under the roots names the outside file.
  const mid = join(root, 'mid.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-b', secret, '-F', 'qcow2', mid);
  const top = join(root, 'top.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-b', mid, '-F', 'qcow2', top);
  await refused(domainXml('deep', top), 'PERMISSION_DENIED', /disk vda: the qcow2 header of .*mid\.qcow2 names .*other-vm\.qcow2/);
});

test('a qcow2 naming a host device or an external data file is refused', async () => {
  const dev = join(root, 'dev.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '/dev/null', '-F', 'raw', dev, '1M');
  await refused(domainXml('dev', dev), 'PERMISSION_DENIED', /disk vda: .*\/dev\/null/);
  const withData = join(root, 'data.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${join(root, 'data.raw')}`, withData, '1M');
  await refused(domainXml('data', withData), 'PERMISSION_DENIED', /disk vda: .*external data file/);
});

test("the XML's <backingStore> must be the chain the headers name", async () => {
  const baseA = join(root, 'base-a.qcow2');
  const baseB = join(root, 'base-b.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', baseA, '1M');
  qemuImg('create', '-q', '-f', 'qcow2', baseB, '1M');
  const disk = join(root, 'chained.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-b', baseA, '-F', 'qcow2', disk);

  await refused(
    domainXml('wrongbase', disk, store(baseB)),
    'FAILED_PRECONDITION',
    /disk vda: the domain XML declares .*base-b\.qcow2.* but the qcow2 header of .*chained\.qcow2 names .*base-a\.qcow2/,
  );
  await refused(domainXml('wrongformat', disk, store(baseA, 'raw')), 'FAILED_PRECONDITION', /disk vda: the domain XML declares .*base-a\.qcow2" \(raw\)/);
  await refused(
    domainXml('nobacking', disk, '<backingStore/>'),
    'FAILED_PRECONDITION',
    /disk vda: the qcow2 header of .*chained\.qcow2 names .*base-a\.qcow2.*<backingStore> ends before it/,
  );
  await refused(domainXml('toolong', disk, store(baseA, 'qcow2', store(baseB))), 'FAILED_PRECONDITION', /declares .*base-b\.qcow2.* as backing file 2 .* names no backing file/);

  // Agreeing, or not declared at all (libvirt then reads the headers): defined.
  for (const [name, backing] of [
    ['agrees', store(baseA)],
    ['undeclared', ''],
  ] as const) {
    const res = await unaryCall(clients.domain, clients.domain.defineDomain, { xml: domainXml(name, disk, backing) }, call);
    assert.equal(res.domain?.name, name);
  }
});

test('declaredChain reads nested <backingStore> elements and stops at an empty one', () => {
  const disk = childrenNamed(childrenNamed(parseXml(domainXml('x', '/i/top.qcow2', store('/i/b1.qcow2', 'qcow2', store('/i/b0.raw', 'raw')))), 'devices')[0], 'disk')[0];
  assert.ok(disk);
  assert.deepEqual(declaredChain(disk), [
    { format: 'qcow2', source: '/i/b1.qcow2' },
    { format: 'raw', source: '/i/b0.raw' },
  ]);
  const none = childrenNamed(childrenNamed(parseXml(domainXml('y', '/i/top.qcow2')), 'devices')[0], 'disk')[0];
  assert.ok(none);
  assert.equal(declaredChain(none), undefined);
});

test('a disk file that does not exist yet has no header to check; the definition is admitted', async () => {
  const res = await unaryCall(clients.domain, clients.domain.defineDomain, { xml: domainXml('later', join(root, 'later.qcow2')) }, call);
  assert.equal(res.domain?.name, 'later');
});
