/**
 * PullImageRequest.make_parents on a real filesystem: the directories
 * missing between a target and its image root are made beneath the root
 * (mode 0711 whatever the umask), and nothing is made outside the roots or
 * through a symlink.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { makeParents } from '../../agent/paths/make-parents.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { KvmcloneError } from '../../shared/errors.js';
import { makeRootAndOutside } from '../support/root-and-outside.js';

let dir: string;
let images: string;
let outside: string;
let roots: ImageRoots;

before(async () => {
  ({ dir, images, outside, roots } = await makeRootAndOutside('kvmclone-make-parents-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function refused(code: string): (err: unknown) => boolean {
  return (err: unknown) => err instanceof KvmcloneError && err.code === code;
}

test('the missing directories are made beneath the root, mode 0711 under any umask; existing ones are left as they are', async () => {
  const old = process.umask(0o077);
  try {
    const made = await makeParents(roots, join(images, 'swtpm', 'uuid-1', 'tpm2', 'tpm2-00.permall'));
    assert.deepEqual(made, [join(images, 'swtpm'), join(images, 'swtpm', 'uuid-1'), join(images, 'swtpm', 'uuid-1', 'tpm2')]);
    for (const path of made) assert.equal((await stat(path)).mode & 0o777, 0o711, path);
  } finally {
    process.umask(old);
  }
  assert.deepEqual(await makeParents(roots, join(images, 'swtpm', 'uuid-1', 'tpm2', 'other')), [], 'nothing missing, nothing made');
});

test('nothing is made outside the roots, nor through a symlink that leads out of them', async () => {
  await assert.rejects(makeParents(roots, join(outside, 'a', 'file')), refused('PERMISSION_DENIED'));
  await symlink(outside, join(images, 'escape'));
  await assert.rejects(makeParents(roots, join(images, 'escape', 'new', 'file')), refused('PERMISSION_DENIED'));
  await assert.rejects(stat(join(outside, 'new')), { code: 'ENOENT' });
  await assert.rejects(stat(join(outside, 'a')), { code: 'ENOENT' });
});
