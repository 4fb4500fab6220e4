import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairFiles } from '../../controller/operations/sync/sync-plan.js';
import type { DescribeDomainResponse__Output } from '../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import { describedDisk, describedDomain } from './support/described-domain.js';

const IMG = '/var/lib/libvirt/images';
function vm(disks: [string, string][], nvram = ''): DescribeDomainResponse__Output {
  return describedDomain({ disks: disks.map(([target, path]) => describedDisk({ target, path })), nvramPath: nvram });
}

test('disks pair by target; new ones are added beside the others, vanished ones removed; NVRAM pairs with NVRAM', () => {
  const source = vm(
    [
      ['vda', `${IMG}/web.qcow2`],
      ['vdc', `${IMG}/web-logs.raw`],
    ],
    '/nv/web_VARS.fd',
  );
  const dest = vm(
    [
      ['vda', '/srv/web2.qcow2'],
      ['vdb', '/srv/web2-data.raw'],
    ],
    '/nv/web2_VARS.fd',
  );
  assert.deepEqual(
    pairFiles(source, dest, 'web', 'web2').map((p) => [p.label, p.kind, p.sourcePath, p.targetPath]),
    [
      ['vda', 'update', `${IMG}/web.qcow2`, '/srv/web2.qcow2'],
      ['vdc', 'add', `${IMG}/web-logs.raw`, '/srv/web2-logs.raw'],
      ['vdb', 'remove', '', '/srv/web2-data.raw'],
      ['nvram', 'update', '/nv/web_VARS.fd', '/nv/web2_VARS.fd'],
    ],
  );
});

test("TPM state files pair by name under each side's own state directory; one new at the source is added with its directory made", () => {
  const source = { ...vm([['vda', `${IMG}/t.raw`]]), tpmStatePath: '/var/lib/libvirt/swtpm/aaaa', tpmStateFiles: ['tpm2/tpm2-00.permall', 'tpm2/tpm2-00.volatilestate'] };
  const dest = { ...vm([['vda', `${IMG}/t2.raw`]]), tpmStatePath: '/var/lib/libvirt/swtpm/bbbb', tpmStateFiles: ['tpm2/tpm2-00.permall', 'tpm2/only-here'] };
  const tpm = pairFiles(source, dest, 't', 't2').filter((p) => p.label.startsWith('tpm '));
  assert.deepEqual(
    tpm.map((p) => [p.label, p.kind, p.sourcePath, p.targetPath, p.makeParents === true]),
    [
      ['tpm tpm2/tpm2-00.permall', 'update', '/var/lib/libvirt/swtpm/aaaa/tpm2/tpm2-00.permall', '/var/lib/libvirt/swtpm/bbbb/tpm2/tpm2-00.permall', false],
      ['tpm tpm2/tpm2-00.volatilestate', 'add', '/var/lib/libvirt/swtpm/aaaa/tpm2/tpm2-00.volatilestate', '/var/lib/libvirt/swtpm/bbbb/tpm2/tpm2-00.volatilestate', true],
    ],
    'a file only the destination has is left alone',
  );
  assert.deepEqual(
    pairFiles({ ...source }, vm([['vda', `${IMG}/t2.raw`]]), 't', 't2').filter((p) => p.label.startsWith('tpm ')),
    [],
    'no TPM at the destination: nothing to pair',
  );
});
