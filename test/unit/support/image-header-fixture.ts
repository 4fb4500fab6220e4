/**
 * What the qcow2 header check tests (image-header-*.test.ts) share: an image
 * root and an "outside" directory beside it, images made there with qemu-img
 * create, and the refusal a check must end in.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KvmcloneError } from '../../../shared/errors.js';
import { ImageRoots } from '../../../agent/paths/image-roots.js';

export const run = promisify(execFile);
export const img = (...args: string[]) => run('qemu-img', ['create', '-q', ...args]);

/** The directories, filled in before the file's tests. */
export class HeaderDirs {
  dir = '';
  /** The only image root. */
  root = '';
  /** A directory outside the root. */
  outside = '';
  roots!: ImageRoots;

  async make(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'kvmclone-header-'));
    this.root = join(this.dir, 'images');
    this.outside = join(this.dir, 'outside');
    await mkdir(this.root);
    await mkdir(this.outside);
    this.roots = await ImageRoots.open([this.root]);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A temporary image root and a directory beside it for the calling test file: made before its tests, removed after them. */
export function useHeaderDirs(): HeaderDirs {
  const dirs = new HeaderDirs();
  before(() => dirs.make());
  after(() => dirs.remove());
  return dirs;
}

export async function refusal(promise: Promise<unknown>): Promise<KvmcloneError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof KvmcloneError, `expected a KvmcloneError, got ${String(err)}`);
    return err;
  }
  assert.fail('the check passed but a refusal was expected');
}
