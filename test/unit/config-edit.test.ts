/**
 * kvmctl.yaml edits (`kvmctl config set|unset`): through the YAML document,
 * so comments and the order of everything else stay; values written as in
 * YAML; checked against the schema kvmctl loads the file with, so a bad key
 * or value is refused and nothing is changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../shared/config/config-file.js';
import { applyConfigEdit, configValue, formatValue, keyPath, parseValue } from '../../controller/config/config-edit.js';

const FILE = `# kvmctl for the DR site
ssh:
  engine: openssh # the fast one
transfer:
  concurrency: 2 # two files at once
timeouts:
  call: 60s
`;

test('set keeps comments and order, adds a new key in its section, and a new section at the end', () => {
  const out = applyConfigEdit(FILE, { op: 'set', key: 'transfer.bwlimit', value: '50M' }, 'k.yaml');
  assert.equal(out, FILE.replace('  concurrency: 2 # two files at once\n', '  concurrency: 2 # two files at once\n  bwlimit: 50M\n'));
  const more = applyConfigEdit(out, { op: 'set', key: 'retry.attempts', value: '8' }, 'k.yaml');
  assert.ok(more.startsWith(out.trimEnd()), more);
  assert.match(more, /retry:\n {2}attempts: 8\n$/);
  assert.equal(configValue(more, 'retry.attempts'), 8);
  assert.equal(applyConfigEdit(FILE, { op: 'set', key: 'transfer.concurrency', value: '4' }, 'k.yaml'), FILE.replace('concurrency: 2', 'concurrency: 4'));
});

test('unset removes the key, and its section when that becomes empty; an unset key is named', () => {
  const out = applyConfigEdit(FILE, { op: 'unset', key: 'transfer.concurrency' }, 'k.yaml');
  assert.equal(out, FILE.replace('transfer:\n  concurrency: 2 # two files at once\n', ''));
  assert.throws(() => applyConfigEdit(FILE, { op: 'unset', key: 'transfer.bwlimit' }, 'k.yaml'), /transfer\.bwlimit: not set in the file/);
  assert.equal(applyConfigEdit('ssh:\n  engine: ssh2\n', { op: 'unset', key: 'ssh.engine' }, 'k.yaml'), '');
});

test('a bad key or value is refused with what is wrong (ConfigError: exit 2)', () => {
  const refused = (key: string, value: string, why: RegExp): void =>
    assert.throws(
      () => applyConfigEdit(FILE, { op: 'set', key, value }, 'k.yaml'),
      (e: unknown) => e instanceof ConfigError && why.test(e.message),
    );
  refused('transfer.compression', 'zstd', /transfer\.compression: unknown key/);
  refused('ssh.engine', 'telnet', /ssh\.engine/);
  refused('transfer.concurrency', '99', /transfer\.concurrency/);
  refused('timeouts.call', 'soon', /timeouts\.call/);
  refused('Transfer.x', '1', /not a config key/);
  assert.throws(() => keyPath('a..b'), /not a config key/);
});

test('values are read as YAML would read them, and printed as written', () => {
  assert.equal(parseValue('4'), 4);
  assert.equal(parseValue('true'), true);
  assert.equal(parseValue('50M'), '50M');
  assert.deepEqual(parseValue('[a, b]'), ['a', 'b']);
  assert.equal(formatValue('50M'), '50M');
  assert.equal(formatValue(['a', 'b']), '[ a, b ]');
  assert.equal(configValue(FILE, 'ssh.engine'), 'openssh');
  assert.equal(configValue(FILE, 'ssh.ciphers'), undefined);
  assert.deepEqual(configValue(FILE, 'timeouts'), { call: '60s' });
});
