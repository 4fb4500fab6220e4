import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { access, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { KvmcloneError } from '../../shared/errors.js';
import { makeRootAndOutside } from '../support/root-and-outside.js';

let base: string;
let root: string;
let outside: string;
let roots: ImageRoots;

before(async () => {
  ({ dir: base, images: root, outside, roots } = await makeRootAndOutside('kvmclone-roots-', 'sub'));
  await writeFile(join(root, 'a.raw'), 'a');
  await writeFile(join(outside, 'secret'), 's');
  await symlink(join(outside, 'secret'), join(root, 'escape.raw'));
  await symlink(outside, join(root, 'escape-dir'));
  await symlink(join(root, 'a.raw'), join(root, 'inside-link.raw'));
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    return err instanceof KvmcloneError ? err.code : `raw:${String(err)}`;
  }
}

test('existing: files under the root resolve, symlinks inside the root are followed', async () => {
  assert.equal(await roots.existing(join(root, 'a.raw')), join(root, 'a.raw'));
  assert.equal(await roots.existing(join(root, 'inside-link.raw')), join(root, 'a.raw'));
});

test('existing: outside paths and escaping symlinks are PERMISSION_DENIED, missing inside is NOT_FOUND', async () => {
  assert.equal(await codeOf(roots.existing(join(outside, 'secret'))), 'PERMISSION_DENIED');
  assert.equal(await codeOf(roots.existing(join(root, 'escape.raw'))), 'PERMISSION_DENIED');
  assert.equal(await codeOf(roots.existing(join(root, 'escape-dir', 'secret'))), 'PERMISSION_DENIED');
  assert.equal(await codeOf(roots.existing('/etc/passwd')), 'PERMISSION_DENIED');
  assert.equal(await codeOf(roots.existing(join(outside, 'missing'))), 'PERMISSION_DENIED');
  assert.equal(await codeOf(roots.existing(join(root, 'missing.raw'))), 'NOT_FOUND');
  assert.equal(await codeOf(roots.existing(`${root}/../outside/secret`)), 'INVALID_ARGUMENT');
});

test('forCreate: new files under the root are allowed; through an escaping link or outside, refused', async () => {
  assert.equal(await roots.forCreate(join(root, 'sub', 'new.qcow2')), join(root, 'sub', 'new.qcow2'));
  assert.equal(await codeOf(roots.forCreate(join(root, 'escape-dir', 'new.qcow2'))), 'PERMISSION_DENIED');
  assert.equal(await codeOf(roots.forCreate(join(root, 'escape.raw'))), 'PERMISSION_DENIED');
  assert.equal(await codeOf(roots.forCreate(join(outside, 'new.qcow2'))), 'PERMISSION_DENIED');
  assert.equal(await codeOf(roots.forCreate(join(root, 'nodir', 'new.qcow2'))), 'NOT_FOUND');
});

test('forCreate: a symlink in place of the file to create is refused, wherever it points (issue 10, hole 3)', async () => {
  // Dangling links: creating "the file" would create the link's target instead — as the agent,
  // or as root through libvirt and virtlogd (a <log file> pointing at /etc/cron.d/x).
  await symlink('/etc/cron.d/kvmclone-x', join(root, 'cron.log'));
  await symlink(join(outside, 'created-through-link'), join(root, 'out.log'));
  await symlink(join(root, 'sub', 'not-yet.raw'), join(root, 'in.raw'));
  await symlink('relative-missing', join(root, 'sub', 'rel.raw'));
  await symlink(join(root, 'loop.raw'), join(root, 'loop.raw'));
  for (const name of ['cron.log', 'out.log', 'in.raw', join('sub', 'rel.raw'), 'loop.raw']) {
    const path = join(root, name);
    await assert.rejects(
      roots.forCreate(path, 'log'),
      (err: unknown) => err instanceof KvmcloneError && err.code === 'PERMISSION_DENIED' && /is a symbolic link/.test(err.message),
      name,
    );
  }
  // also when reached through a directory link that stays inside the roots
  await symlink(join(root, 'sub'), join(root, 'sub-link'));
  assert.equal(await codeOf(roots.forCreate(join(root, 'sub-link', 'rel.raw'))), 'PERMISSION_DENIED');
  assert.equal(await roots.forCreate(join(root, 'sub-link', 'fresh.raw')), join(root, 'sub', 'fresh.raw'));
  await assert.rejects(access(join(outside, 'created-through-link')), 'nothing was created outside');
  // a link to an existing image inside the roots still resolves to that image
  assert.equal(await roots.forCreate(join(root, 'inside-link.raw')), join(root, 'a.raw'));
});

test('nearestExisting measures a not-yet-existing path at its parent, still confined', async () => {
  assert.equal(await roots.nearestExisting(join(root, 'sub', 'x', 'y')), join(root, 'sub'));
  assert.equal(await codeOf(roots.nearestExisting(join(outside, 'x'))), 'PERMISSION_DENIED');
});

test('open: a root that does not exist is refused with its name', async () => {
  await assert.rejects(ImageRoots.open([join(base, 'nope')]), /images root .*nope cannot be resolved/);
});
