/**
 * Found by the fuzzer (test/integration/agent-fuzz.test.ts): a definition
 * libvirt's own parser refuses ("malformed uuid element", "missing domain type
 * attribute" — libvirt reports these as VIR_ERR_INTERNAL_ERROR) came back as
 * INTERNAL, as if the agent had failed. It is the caller's XML that is wrong:
 * INVALID_ARGUMENT with libvirt's reason, and nothing defined. Through the
 * real libvirt library (test driver: the same domain XML parser as qemu's).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { LibvirtAdapter } from '../../agent/libvirt/libvirt-adapter.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import { serveLibvirtServices } from '../support/domain-service-server.js';
import { rejectsWithStatus } from '../support/grpc-status.js';

let tmp: string;
let adapter: LibvirtAdapter;
let server: grpc.Server;
let clients: AgentClients;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'kvmclone-define-refusals-'));
  await mkdir(join(tmp, 'images'));
  adapter = new LibvirtAdapter({ uri: 'test:///default', log: pino({ level: 'silent' }) });
  ({ server, clients } = await serveLibvirtServices(join(tmp, 'agent.sock'), { libvirt: adapter, roots: await ImageRoots.open([join(tmp, 'images')]) }));
});

after(async () => {
  clients?.close();
  server?.forceShutdown();
  await adapter?.close();
  await rm(tmp, { recursive: true, force: true });
});

const body = "<memory unit='MiB'>16</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices/>";

test('definitions libvirt cannot parse are INVALID_ARGUMENT with its reason, not INTERNAL', async () => {
  const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
    ['a malformed <uuid>', `<domain type='qemu'><name>fz-uuid</name><uuid>not-a-uuid</uuid>${body}</domain>`, /malformed uuid/],
    ['no type attribute', `<domain><name>fz-type</name>${body}</domain>`, /missing domain type/],
  ];
  for (const [what, xml, reason] of cases) {
    const details = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.defineDomain, { xml }, { deadlineMs: 30_000 }), 'INVALID_ARGUMENT');
    assert.match(details, reason, what);
  }
  const names = (await adapter.listDomains()).map((d) => d.name);
  assert.ok(!names.includes('fz-uuid') && !names.includes('fz-type'), names.join(','));
});
