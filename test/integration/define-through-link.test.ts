/**
 * Issue 10, hole 3: a path libvirt will create (a serial or `<log file>`, an
 * NVRAM file) that is a dangling symlink under the image roots. Libvirt,
 * virtlogd and QEMU run as root and create the file at the link's target,
 * wherever that is (/etc/cron.d/x in the attack). DefineDomain must refuse it
 * before libvirt sees the XML. Against a throwaway libvirtd
 * (libvirt-sandbox.sh), so "libvirt never saw them" is checked on the real one.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { access, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { LibvirtAdapter } from '../../agent/libvirt/libvirt-adapter.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import { serveLibvirtServices } from '../support/domain-service-server.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { BOOT_SECTOR, missingSandboxPrerequisite, sandboxDown, sandboxUp } from './support/libvirt-sandbox.js';

const skip = missingSandboxPrerequisite();

let tmp: string;
let sandbox: string;
let uri: string;
let images: string;
let outside: string;
let adapter: LibvirtAdapter;
let server: grpc.Server;
let clients: AgentClients;
const call = { deadlineMs: 30_000 };

function vmXml(name: string, uuid: string, devices: string, os = ''): string {
  return `<domain type='qemu'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/>${os}</os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${join(images, 'disk.qcow2')}'/><target dev='vda' bus='virtio'/></disk>
    ${devices}
    <video><model type='none'/></video><memballoon model='none'/>
  </devices></domain>`;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

before(async () => {
  if (skip) return;
  tmp = await mkdtemp('/tmp/kvmclone-link-');
  sandbox = join(tmp, 'sandbox');
  images = join(tmp, 'images');
  outside = join(tmp, 'cron.d');
  await mkdir(images);
  await mkdir(outside);
  uri = await sandboxUp(sandbox);
  adapter = new LibvirtAdapter({ uri, log: pino({ level: 'silent' }) });
  ({ server, clients } = await serveLibvirtServices(join(tmp, 'agent.sock'), { libvirt: adapter, roots: await ImageRoots.open([images]) }));
  execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', BOOT_SECTOR, join(images, 'disk.qcow2')]);
  execFileSync('qemu-img', ['resize', '-q', '-f', 'qcow2', join(images, 'disk.qcow2'), '1M']);
});

after(async () => {
  if (skip || !tmp) return;
  clients?.close();
  server?.forceShutdown();
  await adapter?.close();
  await sandboxDown(sandbox);
  await rm(tmp, { recursive: true, force: true });
});

test('DefineDomain refuses serial, <log file> and NVRAM paths that are dangling links under the roots', { skip }, async () => {
  const link = async (name: string): Promise<string> => {
    const path = join(images, name);
    await symlink(join(outside, `via-${name}`), path);
    return path;
  };
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['serial file', vmXml('it-link-1', '9e4a7b5c-1d6f-4ad1-8cae-5f6071829304', `<serial type='file'><source path='${await link('serial.log')}'/><target port='0'/></serial>`)],
    [
      'chardev <log file>',
      vmXml('it-link-2', '9e4a7b5c-1d6f-4ad1-8cae-5f6071829305', `<serial type='pty'><log file='${await link('console.log')}' append='on'/><target port='0'/></serial>`),
    ],
    ['NVRAM', vmXml('it-link-3', '9e4a7b5c-1d6f-4ad1-8cae-5f6071829306', '', `<nvram>${await link('VARS.fd')}</nvram>`)],
  ];
  for (const [what, xml] of cases) {
    const details = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.defineDomain, { xml }, call), 'PERMISSION_DENIED');
    assert.ok(details.length > 0, what);
  }
  assert.deepEqual(
    (await adapter.listDomains()).map((d) => d.name),
    [],
    'libvirt never saw them',
  );
  for (const name of ['serial.log', 'console.log', 'VARS.fd']) assert.equal(await exists(join(outside, `via-${name}`)), false, name);
});
