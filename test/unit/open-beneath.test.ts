/**
 * Opening beneath the roots (agent/paths/open-beneath.ts, confined-dir.ts):
 * the rules the DiskService tests rely on, one by one — a symlink is never
 * followed at a name the agent creates or opens through a held directory, a
 * FIFO in an image's place does not block the agent, a descriptor is reopened
 * on the same inode, nested roots resolve to the deepest, and a closed
 * directory can no longer be used (its number may belong to another file).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { openImage, openParent } from '../../agent/paths/open-beneath.js';
import { ErrnoError } from '../../agent/native/libc.js';
import { KvmcloneError } from '../../shared/errors.js';

const run = promisify(execFile);
let base: string;
let root: string;
let outside: string;
let roots: ImageRoots;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'kvmclone-beneath-'));
  root = join(base, 'images');
  outside = join(base, 'outside');
  await mkdir(join(root, 'nested'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(root, 'a.raw'), 'inside');
  await symlink(join(root, 'a.raw'), join(root, 'inside-link.raw'));
  await symlink(join(outside, 'created.raw'), join(root, 'dangling.raw'));
  await run('mkfifo', [join(root, 'fifo.raw')]);
  roots = await ImageRoots.open([root, join(root, 'nested')]);
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

const isCode = (code: string) => (err: unknown) => (err instanceof KvmcloneError || err instanceof ErrnoError) && err.code === code;

test('openImage opens the resolved file (an inside link is resolved first) and reports its size and links', async () => {
  const image = await openImage(roots, join(root, 'inside-link.raw'), constants.O_RDONLY);
  try {
    assert.equal(image.path, join(root, 'a.raw'));
    assert.equal(image.size, 6);
    assert.equal(image.links, 1);
    assert.equal(await image.fh.readFile('utf8'), 'inside');
  } finally {
    await image.fh.close();
  }
});

test('openImage refuses a FIFO in an image place at once instead of blocking on it', async () => {
  const started = Date.now();
  await assert.rejects(openImage(roots, join(root, 'fifo.raw'), constants.O_RDONLY), (err: unknown) => isCode('INVALID_ARGUMENT')(err) && /not a regular file/.test(String(err)));
  assert.ok(Date.now() - started < 1000);
});

test('a file created through a held directory is never created through a symlink in its place', async () => {
  const parent = await openParent(roots, join(root, 'new.raw'), 'target');
  try {
    assert.equal(parent.path, join(root, 'new.raw'));
    const fh = await parent.dir.createFile('dangling.raw', constants.O_WRONLY, 0o600).catch((err: unknown) => err);
    assert.ok(fh instanceof ErrnoError && (fh.code === 'ELOOP' || fh.code === 'EEXIST'), String(fh));
    await assert.rejects(parent.dir.openFile('dangling.raw', constants.O_RDONLY), isCode('FAILED_PRECONDITION'));
    await assert.rejects(
      parent.dir.openFile('inside-link.raw', constants.O_RDONLY),
      isCode('FAILED_PRECONDITION'),
      'no symlink is followed through a held directory, even one leading inside',
    );
    const created = await parent.dir.createFile('new.raw', constants.O_WRONLY, 0o600);
    await created.write('x');
    await created.close();
    assert.equal(parent.dir.entry('new.raw')?.isFile(), true);
    assert.equal(parent.dir.entry('dangling.raw')?.isSymbolicLink(), true);
    assert.equal(parent.dir.entry('missing.raw'), undefined);
    assert.throws(() => parent.dir.unlink('../outside/x'), isCode('INVALID_ARGUMENT'));
    parent.dir.unlink('new.raw');
  } finally {
    parent.dir.close();
  }
  assert.deepEqual(await readdir(outside), [], 'nothing was created outside');
  await assert.rejects(openParent(roots, join(root, 'dangling.raw'), 'target'), isCode('PERMISSION_DENIED'), 'forCreate refuses the dangling link first');
});

test('a closed directory refuses every further use', async () => {
  const parent = await openParent(roots, join(root, 'a.raw'), 'path', true);
  parent.dir.close();
  parent.dir.close();
  assert.throws(() => parent.dir.entry('a.raw'), /already closed/);
  assert.throws(() => parent.dir.unlink('a.raw'), /already closed/);
  assert.equal(await readFile(join(root, 'a.raw'), 'utf8'), 'inside');
});

test('locate picks the deepest root and refuses paths outside all of them', () => {
  assert.equal(roots.locate(join(root, 'nested', 'x.raw')).relative, 'x.raw');
  assert.equal(roots.locate(join(root, 'x.raw')).relative, 'x.raw');
  assert.equal(roots.locate(root).relative, '.');
  assert.throws(() => roots.locate(join(outside, 'x.raw')), isCode('PERMISSION_DENIED'));
  assert.throws(() => roots.locate(`${root}-sibling/x.raw`), isCode('PERMISSION_DENIED'));
});
