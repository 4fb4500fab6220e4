/**
 * scripts/npm-deps: installs into a checkout's own node_modules when it is
 * missing or stale, and never through a symlinked node_modules (npm ci there
 * emptied the main checkout's, shared by every worktree); kvmclone's native
 * addon is built when missing or older than its sources, linked node_modules
 * or not. `npm` is a fake on PATH that records its arguments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../../scripts/npm-deps', import.meta.url));

async function withFakeNpm(fn: (dir: string, npmCalls: () => Promise<string>, env: NodeJS.ProcessEnv) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-npm-deps-'));
  try {
    const bin = join(dir, 'bin');
    await mkdir(bin);
    const log = join(dir, 'npm-calls');
    await writeFile(log, '');
    await writeFile(join(bin, 'npm'), `#!/bin/sh\necho "$*" >> ${log}\n`);
    await chmod(join(bin, 'npm'), 0o755);
    await fn(dir, () => readFile(log, 'utf8'), { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a symlinked node_modules is never installed into, even when package-lock.json is newer; a differing lock is named', async () => {
  await withFakeNpm(async (dir, npmCalls, env) => {
    const main = join(dir, 'main');
    const worktree = join(dir, 'wt');
    await mkdir(join(main, 'node_modules'), { recursive: true });
    await writeFile(join(main, 'node_modules', 'sentinel'), 'shared');
    await writeFile(join(main, 'node_modules', '.package-lock.json'), '{}');
    await writeFile(join(main, 'package-lock.json'), '{"v":1}');
    await mkdir(worktree);
    await writeFile(join(worktree, 'package-lock.json'), '{"v":1}');
    await utimes(join(main, 'node_modules', '.package-lock.json'), new Date(1000), new Date(1000));
    await symlink(join(main, 'node_modules'), join(worktree, 'node_modules'));

    const same = await run('bash', [SCRIPT, worktree], { env });
    assert.equal(await npmCalls(), '', 'npm is not run through the link');
    assert.equal(same.stderr, '');
    assert.equal(await readFile(join(main, 'node_modules', 'sentinel'), 'utf8'), 'shared');

    await writeFile(join(worktree, 'package-lock.json'), '{"v":2}');
    const differs = await run('bash', [SCRIPT, worktree], { env });
    assert.equal(await npmCalls(), '');
    assert.match(differs.stderr, /installed for another package-lock\.json .*not installing through the link/);
  });
});

test('an own node_modules: installed when missing or older than package-lock.json, left alone when current', async () => {
  await withFakeNpm(async (dir, npmCalls, env) => {
    await writeFile(join(dir, 'package-lock.json'), '{}');
    await run('bash', [SCRIPT, dir], { env });
    assert.equal(await npmCalls(), 'ci --no-audit --no-fund\n', 'missing: installed');

    await mkdir(join(dir, 'node_modules'));
    await writeFile(join(dir, 'node_modules', '.package-lock.json'), '{}');
    await utimes(join(dir, 'package-lock.json'), new Date(1000), new Date(1000));
    await run('bash', [SCRIPT, dir], { env });
    assert.equal(await npmCalls(), 'ci --no-audit --no-fund\n', 'current: not installed again');

    await utimes(join(dir, 'node_modules', '.package-lock.json'), new Date(500), new Date(500));
    await run('bash', [SCRIPT, dir], { env });
    assert.equal(await npmCalls(), 'ci --no-audit --no-fund\n'.repeat(2), 'stale: installed');
  });
});

test("the checkout's native addon is built (npm run install) when missing or older than native/'s sources, even beside a linked node_modules", async () => {
  await withFakeNpm(async (dir, npmCalls, env) => {
    const main = join(dir, 'main');
    await mkdir(join(main, 'node_modules'), { recursive: true });
    await writeFile(join(main, 'node_modules', '.package-lock.json'), '{}');
    await writeFile(join(main, 'package-lock.json'), '{}');
    await writeFile(join(dir, 'package-lock.json'), '{}');
    await symlink(join(main, 'node_modules'), join(dir, 'node_modules'));
    await mkdir(join(dir, 'native', 'build', 'Release'), { recursive: true });
    await writeFile(join(dir, 'native', 'binding.gyp'), '{}');
    await writeFile(join(dir, 'native', 'fd_calls.c'), '');
    const addon = join(dir, 'native', 'build', 'Release', 'kvmclone_fd.node');
    const build = 'run --silent install\n';

    await run('bash', [SCRIPT, dir], { env });
    assert.equal(await npmCalls(), build, 'missing: built');

    await writeFile(addon, '');
    for (const f of ['binding.gyp', 'fd_calls.c']) await utimes(join(dir, 'native', f), new Date(1000), new Date(1000));
    await run('bash', [SCRIPT, dir], { env });
    assert.equal(await npmCalls(), build, 'current: not built again');

    await utimes(addon, new Date(500), new Date(500));
    await run('bash', [SCRIPT, dir], { env });
    assert.equal(await npmCalls(), build.repeat(2), 'older than fd_calls.c: built');
  });
});
