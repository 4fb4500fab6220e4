/**
 * An I/O error from a descriptor gets the image's path (so the user learns
 * which disk failed); errors that already name a file, and errors that are
 * not errno errors, are left as they are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withErrnoPath } from '../../agent/disk/errno-path.js';
import { KvmcloneError } from '../../shared/errors.js';

test('an EIO from a read names the image', () => {
  const err = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', syscall: 'read' });
  assert.equal((withErrnoPath(err, '/var/lib/libvirt/images/a.qcow2') as NodeJS.ErrnoException).path, '/var/lib/libvirt/images/a.qcow2');
});

test('an error that already names a file keeps its own path', () => {
  const err = Object.assign(new Error('ENOENT'), { code: 'ENOENT', path: '/x/other' });
  assert.equal((withErrnoPath(err, '/images/a.raw') as NodeJS.ErrnoException).path, '/x/other');
});

test('kvmclone errors and non-errors pass through unchanged', () => {
  const k = new KvmcloneError('FAILED_PRECONDITION', 'no');
  assert.equal(withErrnoPath(k, '/images/a.raw'), k);
  assert.equal((k as unknown as NodeJS.ErrnoException).path, undefined);
  assert.equal(withErrnoPath('text', '/images/a.raw'), 'text');
});
