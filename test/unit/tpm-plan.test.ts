import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planTpmState, type TpmPlanInput } from '../../controller/operations/clone/tpm-plan.js';
import { KvmcloneError } from '../../shared/errors.js';
import type { DescribeDomainResponse__Output } from '../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';

const SWTPM = '/var/lib/libvirt/swtpm';
const SOURCE_UUID = '9639ac3a-5478-4697-a545-3dfdadbbe916';
const NEW_UUID = '11111111-2222-3333-4444-555555555555';
const ROOTS = ['/var/lib/libvirt/images', SWTPM];

function source(statePath: string, files: string[], secret = ''): DescribeDomainResponse__Output {
  return {
    domain: { name: 'win', uuid: SOURCE_UUID, state: 'DOMAIN_STATE_SHUTOFF', persistent: true, vcpus: 1, memoryBytes: 1 },
    xml: '',
    disks: [],
    nvramPath: '',
    tpmStatePath: statePath,
    tpmStateFiles: files,
    tpmSecret: secret,
    cpuMode: '',
    cpuModel: '',
    policyViolations: [],
  };
}

const input: TpmPlanInput = { vm: 'win', destVm: 'win-copy', uuid: NEW_UUID, from: { host: 'hosta', imageRoots: ROOTS }, to: { host: 'hostb', imageRoots: ROOTS } };

test("state under the UUID goes under the clone's new UUID, file by file, and the definition needs no path", () => {
  const plan = planTpmState(source(`${SWTPM}/${SOURCE_UUID}`, ['tpm2/tpm2-00.permall']), input);
  assert.deepEqual(
    plan.files.map((f) => [f.role, f.label, f.sourcePath, f.targetPath, f.action]),
    [['tpm', 'tpm tpm2/tpm2-00.permall', `${SWTPM}/${SOURCE_UUID}/tpm2/tpm2-00.permall`, `${SWTPM}/${NEW_UUID}/tpm2/tpm2-00.permall`, 'copy']],
  );
  assert.equal(plan.namedStatePath, undefined);
  assert.deepEqual(plan.warnings, []);
});

test('a state directory the definition names is renamed like a disk, and the definition is rewritten to it', () => {
  const plan = planTpmState(source(`${SWTPM}/win-tpm`, ['tpm2/tpm2-00.permall']), input);
  assert.equal(plan.namedStatePath, `${SWTPM}/win-copy-tpm`);
  assert.equal(plan.files[0]?.targetPath, `${SWTPM}/win-copy-tpm/tpm2/tpm2-00.permall`);
});

test('no TPM: nothing; a TPM never started: nothing to copy, and a warning', () => {
  assert.deepEqual(planTpmState(source('', []), input), { files: [], warnings: [] });
  const fresh = planTpmState(source(`${SWTPM}/${SOURCE_UUID}`, []), input);
  assert.deepEqual(fresh.files, []);
  assert.match(fresh.warnings[0] ?? '', /no state yet/);
});

test('encrypted state is planned like any once the destination has a vTPM secret of that UUID', () => {
  const encrypted = source(`${SWTPM}/${SOURCE_UUID}`, ['tpm2/tpm2-00.permall'], '6dd3e4a5-1d76-44ce-961f-f119f5aad935');
  assert.equal(planTpmState(encrypted, { ...input, destSecret: { defined: true, usageType: 'vtpm' } }).files.length, 1);
  assert.throws(
    () => planTpmState(encrypted, { ...input, destSecret: { defined: true, usageType: 'volume' } }),
    (err: unknown) => err instanceof KvmcloneError && /usage 'volume', not 'vtpm'/.test(err.message),
  );
});

test("encrypted state and state outside either agent's roots are refused, saying what to do", () => {
  assert.throws(
    () => planTpmState(source(`${SWTPM}/${SOURCE_UUID}`, ['tpm2/tpm2-00.permall'], '6dd3e4a5-1d76-44ce-961f-f119f5aad935'), input),
    (err: unknown) => err instanceof KvmcloneError && err.code === 'FAILED_PRECONDITION' && /secret 6dd3e4a5.*hostb.*secret-define/.test(err.message),
  );
  assert.throws(
    () => planTpmState(source(`${SWTPM}/${SOURCE_UUID}`, ['tpm2/tpm2-00.permall']), { ...input, to: { host: 'hostb', imageRoots: ['/var/lib/libvirt/images'] } }),
    (err: unknown) =>
      err instanceof KvmcloneError && err.code === 'FAILED_PRECONDITION' && /destination agent on hostb.*add \/var\/lib\/libvirt\/swtpm to image_roots/.test(err.message),
  );
});
