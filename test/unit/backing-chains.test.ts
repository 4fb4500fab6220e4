import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapBackingChains } from '../../controller/operations/sync/backing-chains.js';
import { KvmcloneError } from '../../shared/errors.js';
import type { DescribeDomainResponse__Output } from '../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import { describedDisk, describedDomain } from './support/described-domain.js';

const NAMES = { vm: 'web', destVm: 'web', from: 'a', to: 'b' };

/** A described VM with one qcow2 disk vda at `path` on the chain `chain` (nearest first, [path, format]). */
function vm(path: string, chain: [string, string][]): DescribeDomainResponse__Output {
  const backingChain = chain.map(([p, format]) => ({ path: p, format, virtualSize: 1, allocatedSize: 1, backingReference: '' }));
  return describedDomain({ disks: [describedDisk({ target: 'vda', path, format: 'qcow2', backingChain, backingReference: chain[0]?.[0] ?? '' })] });
}

test("each source base maps onto the destination's copy, link by link (a --target-dir clone lives elsewhere)", () => {
  const source = vm('/img/web.qcow2', [
    ['/img/web-base.qcow2', 'qcow2'],
    ['/img/os.raw', 'raw'],
  ]);
  const dest = vm('/img/clones/web.qcow2', [
    ['/img/clones/web-base.qcow2', 'qcow2'],
    ['/img/clones/os.raw', 'raw'],
  ]);
  assert.deepEqual(mapBackingChains(source, dest, NAMES), [
    { disk: 'vda', sourcePath: '/img/web-base.qcow2', targetPath: '/img/clones/web-base.qcow2' },
    { disk: 'vda', sourcePath: '/img/os.raw', targetPath: '/img/clones/os.raw' },
  ]);
  assert.deepEqual(mapBackingChains(vm('/img/web.qcow2', []), vm('/img/clones/web.qcow2', []), NAMES), [], 'standalone disks have nothing to map');
});

test('chains that no longer match are refused with the disk and both chains named', () => {
  const refused = (source: DescribeDomainResponse__Output, dest: DescribeDomainResponse__Output, match: RegExp): void => {
    assert.throws(
      () => mapBackingChains(source, dest, NAMES),
      (err: unknown) => err instanceof KvmcloneError && err.code === 'FAILED_PRECONDITION' && match.test(err.message),
    );
  };
  refused(
    vm('/img/web.qcow2', [
      ['/img/b1.qcow2', 'qcow2'],
      ['/img/b0.qcow2', 'qcow2'],
    ]),
    vm('/img/c/web.qcow2', [['/img/c/b1.qcow2', 'qcow2']]),
    /disk vda: web on a has 2 backing file\(s\).*web on b has 1.*clone the VM again/,
  );
  refused(
    vm('/img/web.qcow2', [['/img/b.raw', 'raw']]),
    vm('/img/c/web.qcow2', [['/img/c/b.raw', 'qcow2']]),
    /\/img\/b\.raw on a is raw but its copy \/img\/c\/b\.raw on b is qcow2/,
  );
  const added = vm('/img/web.qcow2', [['/img/b.qcow2', 'qcow2']]);
  const onlyVdb = { ...vm('/img/c/web.qcow2', []), disks: vm('/img/c/web.qcow2', []).disks.map((d) => ({ ...d, target: 'vdb' })) };
  refused(added, onlyVdb, /disk vda of web on a is new and sits on backing file\(s\) \(\/img\/b\.qcow2\): sync adds standalone disks only/);
});
