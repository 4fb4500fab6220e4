import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAbsolutePath, checkId, checkVmName } from '../../shared/validation.js';
import { KvmcloneError } from '../../shared/errors.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof KvmcloneError ? err.code : 'not-a-KvmcloneError';
  }
}

test('VM names: plain names pass, shell metacharacters and oddities are INVALID_ARGUMENT', () => {
  for (const ok of ['vm1', 'web-01', 'db_2.prod', 'A+B', 'x'.repeat(64)]) assert.equal(checkVmName(ok), ok);
  for (const bad of ['', 'vm1;rm -rf /', '$(id)', '`id`', 'a b', '../etc', '-rf', '.hidden', 'x'.repeat(65), 'vm\n1', 'vm/1', "it's"]) {
    assert.equal(
      code(() => checkVmName(bad)),
      'INVALID_ARGUMENT',
      bad,
    );
  }
  assert.equal(
    code(() => checkVmName(42)),
    'INVALID_ARGUMENT',
  );
});

test('absolute paths: normal form only; dot segments, relative paths and control characters refused', () => {
  assert.equal(checkAbsolutePath('/var/lib/libvirt/images/a.qcow2'), '/var/lib/libvirt/images/a.qcow2');
  assert.equal(checkAbsolutePath('/var/lib/libvirt/images/'), '/var/lib/libvirt/images');
  assert.equal(checkAbsolutePath('/'), '/');
  for (const bad of ['', 'relative/x', '/a/../b', '/a/./b', '/a//b', '/a/b/..', '/a\u0000b', '/a\nb', 'x'.repeat(5000)]) {
    assert.equal(
      code(() => checkAbsolutePath(bad)),
      'INVALID_ARGUMENT',
      JSON.stringify(bad.slice(0, 20)),
    );
  }
  assert.match(
    String(
      (() => {
        try {
          checkAbsolutePath('/a/../b', 'target_path');
        } catch (e) {
          return (e as Error).message;
        }
        return '';
      })(),
    ),
    /target_path: .*'\.\.' segment/,
  );
});

test('ids: generated ids pass, anything path-like is refused', () => {
  assert.equal(checkId('3f2b7c1e-8d4a-4b6f-9e2d-1a2b3c4d5e6f', 'staging_id'), '3f2b7c1e-8d4a-4b6f-9e2d-1a2b3c4d5e6f');
  for (const bad of ['', 'short', '../../etc/passwd', 'ABCDEFGHIJ', 'a/b/c/d/e/f'])
    assert.equal(
      code(() => checkId(bad, 'staging_id')),
      'INVALID_ARGUMENT',
    );
});
