/**
 * Clone and sync refuse a source whose definition the domain policy refuses
 * (issue 10, hole 1) in preflight — exit 3, naming the element — instead of
 * copying its disks and failing at DEFINE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { preflightClone, refuseByPolicy } from '../../controller/operations/clone/preflight.js';
import { exitCodeFor, EXIT_REFUSED } from '../../controller/cli/exit-codes.js';
import type { HostSession } from '../../controller/transport/host-session.js';
import type { DescribeDomainResponse__Output } from '../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import { KvmcloneError } from '../../shared/errors.js';
import { describedDomain } from './support/described-domain.js';

const VIOLATION = "domain/devices/hostdev: host device passthrough (hostdev type 'pci'): the guest would take over whatever device sits at that address on the host";

function described(policyViolations: string[]): DescribeDomainResponse__Output {
  return describedDomain({
    domain: { name: 'web', uuid: '0b7e6c2e-9a3c-4d8e-8f1a-2b3c4d5e6f70', state: 'DOMAIN_STATE_SHUTOFF', persistent: true, vcpus: 1, memoryBytes: 64 * 1024 * 1024 },
    xml: "<domain type='kvm'><name>web</name></domain>",
    policyViolations,
  });
}

/** A session whose agent answers DescribeDomain with `response` and records every other call. */
function session(host: string, response: DescribeDomainResponse__Output, calls: string[]): HostSession {
  const domain = {
    describeDomain: () => response,
    listDomains: () => ({ domains: [] }),
  };
  return {
    host,
    clients: { domain },
    info: { imageRoots: ['/var/lib/libvirt/images'] },
    call: async (_client: unknown, method: (req: unknown) => unknown, request: unknown) => {
      calls.push(method === domain.describeDomain ? 'describeDomain' : 'other');
      return method(request);
    },
  } as unknown as HostSession;
}

test('clone preflight refuses a source with a host device, naming it, before anything else is asked (exit 3)', async () => {
  const calls: string[] = [];
  const src = session('hosta', described([VIOLATION]), calls);
  const dst = session('hostb', described([]), calls);
  const err = await preflightClone({ vm: 'web', from: 'hosta', to: 'hostb', destVm: 'web', start: false, dryRun: false }, src, dst, new AbortController().signal).then(
    () => assert.fail('preflight passed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof KvmcloneError);
  assert.equal(err.code, 'FAILED_PRECONDITION');
  assert.match(err.message, /web on hosta cannot be cloned: .*domain\/devices\/hostdev: host device passthrough/);
  assert.equal(exitCodeFor(err.code, 'preflight'), EXIT_REFUSED);
  assert.deepEqual(calls, ['describeDomain'], 'refused on the description alone');
});

test('refuseByPolicy (shared with sync) passes a clean definition and an older agent that lists nothing', () => {
  refuseByPolicy(described([]), 'web', 'hosta', 'synced');
  const older = described([]) as Partial<DescribeDomainResponse__Output>;
  delete older.policyViolations;
  refuseByPolicy(older as DescribeDomainResponse__Output, 'web', 'hosta', 'synced');
  assert.throws(() => refuseByPolicy(described([VIOLATION, 'domain/seclabel: x']), 'web', 'hosta', 'synced'), /web on hosta cannot be synced: .*hostdev.*; domain\/seclabel: x/);
});
