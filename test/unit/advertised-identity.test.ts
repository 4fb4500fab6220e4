import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advertisedIdentity } from '../../agent/services/advertised-identity.js';
import { compareVersions } from '../../controller/operations/host-report.js';
import { AGENT_CAPABILITIES } from '../../shared/capabilities.js';
import { KVMCLONE_VERSION } from '../../shared/version.js';

test('the agent advertises its build unless told to present an older identity; bad values stop it', () => {
  assert.deepEqual(advertisedIdentity({}), { version: KVMCLONE_VERSION, capabilities: [...AGENT_CAPABILITIES], emulated: false });
  const older = advertisedIdentity({ KVMCLONE_AGENT_REPORT_VERSION: '0.0.9', KVMCLONE_AGENT_HIDE_CAPABILITIES: 'transfer.flatten, transfer.tpm-state' });
  assert.equal(older.version, '0.0.9');
  assert.equal(older.emulated, true);
  assert.deepEqual(
    older.capabilities,
    AGENT_CAPABILITIES.filter((c) => c !== 'transfer.flatten' && c !== 'transfer.tpm-state'),
  );
  assert.throws(() => advertisedIdentity({ KVMCLONE_AGENT_HIDE_CAPABILITIES: 'transfer.teleport' }), /transfer\.teleport is not a capability/);
  assert.throws(() => advertisedIdentity({ KVMCLONE_AGENT_REPORT_VERSION: 'latest' }), /not a version/);
});

test('hosts check: versions side by side, a warning naming the hosts to upgrade only when they differ', () => {
  assert.deepEqual(compareVersions([], '1.0.0'), { differ: false, text: '' });
  assert.deepEqual(compareVersions([{ host: 'a', version: '1.0.0' }], '1.0.0'), { differ: false, text: '' });
  assert.equal(
    compareVersions(
      [
        { host: 'a', version: '1.0.0' },
        { host: 'b', version: '1.0.0' },
      ],
      '1.0.0',
    ).text,
    'versions: kvmctl 1.0.0; a 1.0.0, b 1.0.0\n',
  );
  const mixed = compareVersions(
    [
      { host: 'a', version: '1.0.0' },
      { host: 'b', version: '0.9.0' },
    ],
    '1.0.0',
  );
  assert.equal(mixed.differ, true);
  assert.match(mixed.text, /^versions: kvmctl 1\.0\.0; a 1\.0\.0, b 0\.9\.0\nwarning: the versions differ.*upgrade kvmclone-agent on b to 1\.0\.0\n$/);
});
