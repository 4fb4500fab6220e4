/**
 * `kvmclone-agent install-unit`: the drop-in's ReadWritePaths come from
 * agent.yaml (roots, scratch dir, socket dirs, audit dir), each quoted so
 * systemd reads back exactly the path (spaces, quotes, %), relative or
 * multi-line paths are refused before anything is written, and systemd is
 * reloaded only for its own directory.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installUnit, type InstallUnitSystem } from '../../agent/install/install-unit.js';
import { installUnitCommand } from '../../agent/install/install-unit-command.js';
import { quoteUnitWord, renderPathsDropIn } from '../../agent/install/paths-drop-in.js';
import { unitWritablePaths } from '../../agent/install/unit-paths.js';
import { KvmcloneError } from '../../shared/errors.js';
import { SHIPPED_UNIT } from '../support/unit-file.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-install-unit-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const noSystemd: InstallUnitSystem = {
  systemdRunning: async () => false,
  daemonReload: async () => assert.fail('daemon-reload must not run'),
};

function captured(): { out: string[]; err: string[]; io: { out: (t: string) => void; err: (t: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t) => out.push(t), err: (t) => err.push(t) } };
}

/** The ReadWritePaths words of a drop-in, unquoted the way systemd's EXTRACT_UNQUOTE does (\x → x, %% → %). */
function readWritePaths(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('ReadWritePaths='))
    .map((l) => {
      const quoted = /^ReadWritePaths="((?:[^"\\]|\\.)*)"$/.exec(l);
      assert.ok(quoted, `not one quoted word: ${l}`);
      return (quoted[1] ?? '').replace(/\\(.)/g, '$1').replace(/%%/g, '%');
    });
}

test('paths come from agent.yaml: every image root, the scratch dir, the socket dirs and the audit dir, each optional (-)', async () => {
  const config = join(dir, 'agent.yaml');
  await writeFile(config, 'socket: /run/kvm-admin/agent.sock\npeer_socket: /run/kvm-peer/peer.sock\nimage_roots: [/srv/images, /data/vms]\nlive:\n  scratch_dir: /srv/scratch\n');
  const out = join(dir, 'from-config');
  const { out: said, io } = captured();
  assert.equal(await installUnitCommand({ config, output: out }, io, noSystemd), 0);
  const text = await readFile(join(out, '50-paths.conf'), 'utf8');
  assert.deepEqual(readWritePaths(text), ['-/srv/images', '-/data/vms', '-/srv/scratch', '-/run/kvm-admin', '-/run/kvm-peer', '-/var/log/kvmclone']);
  assert.match(text, /^\[Service\]$/m);
  assert.match(text, /from .*agent\.yaml/);
  assert.doesNotMatch(text, /ProtectHome/);
  assert.match(said.join(''), /wrote .*50-paths\.conf/);
  assert.match(said.join(''), /nothing reloaded/);
});

test('the default config dedupes the scratch dir (the first root) and the peer socket dir', () => {
  const paths = unitWritablePaths({
    imageRoots: ['/var/lib/libvirt/images'],
    scratchDir: '/var/lib/libvirt/images',
    socket: '/run/kvmclone/agent.sock',
    peerSocket: '/run/kvmclone/peer.sock',
  });
  assert.deepEqual(
    paths.map((p) => p.path),
    ['/var/lib/libvirt/images', '/run/kvmclone', '/var/log/kvmclone'],
  );
});

test('a read-only socket and an audit file elsewhere open their directories too', () => {
  const paths = unitWritablePaths({
    imageRoots: ['/srv/images'],
    scratchDir: '/srv/images',
    socket: '/run/kvmclone/agent.sock',
    roSocket: '/run/kvmclone-ro/agent-ro.sock',
    peerSocket: '/run/kvmclone/peer.sock',
    audit: { file: '/srv/audit/kvmclone.log' },
  });
  assert.deepEqual(
    paths.map((p) => p.path),
    ['/srv/images', '/run/kvmclone', '/run/kvmclone-ro', '/srv/audit'],
  );
});

test('quoting: spaces, double quotes, backslashes and % survive as written', () => {
  const tricky = ['/srv/vm images', '/srv/a"b', '/srv/back\\slash', '/srv/100%full', '/srv/tab-less  two spaces'];
  const text = renderPathsDropIn(
    tricky.map((path) => ({ path, why: 'image_roots' })),
    'test',
  );
  assert.deepEqual(
    readWritePaths(text),
    tricky.map((p) => `-${p}`),
  );
  assert.equal(quoteUnitWord('-/srv/vm images'), '"-/srv/vm images"');
  assert.equal(quoteUnitWord('%h'), '"%%h"', 'no specifier is expanded');
});

test('systemd itself reads the quoted paths back unchanged (systemd-analyze verify, when installed)', async (t) => {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
  } catch {
    t.skip('systemd-analyze is not installed');
    return;
  }
  const unitDir = join(dir, 'verify');
  await mkdir(join(unitDir, 'kvmclone-agent.service.d'), { recursive: true });
  // ExecStart must exist for verify; everything else is the shipped unit.
  const shipped = await readFile(SHIPPED_UNIT, 'utf8');
  await writeFile(join(unitDir, 'kvmclone-agent.service'), shipped.replace(/^ExecStart=.*$/m, 'ExecStart=/usr/bin/env true'));
  await writeFile(
    join(unitDir, 'kvmclone-agent.service.d', '50-paths.conf'),
    renderPathsDropIn(
      ['/srv/vm images', '/srv/50%'].map((path) => ({ path, why: 'image_roots' })),
      'test',
    ),
  );
  // At debug level, verify dumps the unit as systemd parsed it, drop-ins included.
  const run = spawnSync('systemd-analyze', ['verify', join(unitDir, 'kvmclone-agent.service')], { env: { ...process.env, SYSTEMD_LOG_LEVEL: 'debug' }, encoding: 'utf8' });
  const stderr = `${run.stdout}${run.stderr}`;
  const parsed = /^\s*ReadWritePaths: (.*)$/m.exec(stderr)?.[1] ?? '';
  assert.ok(parsed.endsWith(' -/srv/vm images -/srv/50%'), `systemd parsed: ${parsed}`);
  assert.doesNotMatch(stderr, /50-paths\.conf.*(ignoring|Failed)/, stderr);
});

test('relative paths, ".." and newlines are refused with INVALID_ARGUMENT before anything is written', async () => {
  for (const [path, why] of [
    ['images', /not an absolute path/],
    ['/srv/../etc', /'\.\.' segment/],
    ['/srv/x\nExecStartPre=/bin/sh -c id', /control characters/],
    ['', /a path is required/],
  ] as const) {
    assert.throws(
      () =>
        renderPathsDropIn(
          [
            { path: '/srv/ok', why: 'image_roots' },
            { path, why: 'live.scratch_dir' },
          ],
          'test',
        ),
      (err: unknown) => err instanceof KvmcloneError && err.code === 'INVALID_ARGUMENT' && why.test(err.message) && err.message.includes('live.scratch_dir'),
      JSON.stringify(path),
    );
  }
  const out = join(dir, 'refused');
  await assert.rejects(
    installUnit(
      { imageRoots: ['relative/images'], scratchDir: '/srv/s', socket: '/run/k/agent.sock', peerSocket: '/run/k/peer.sock' },
      { source: 'test', outputDir: out },
      noSystemd,
    ),
    (err: unknown) => err instanceof KvmcloneError && err.code === 'INVALID_ARGUMENT',
  );
  await assert.rejects(readdir(out), /ENOENT/, 'nothing was written');
});

test('a relative root in agent.yaml: the config error, exit 2, no drop-in', async () => {
  const config = join(dir, 'relative.yaml');
  await writeFile(config, 'image_roots: [images]\n');
  const out = join(dir, 'relative-out');
  const { err, io } = captured();
  assert.equal(await installUnitCommand({ config, output: out }, io, noSystemd), 2);
  assert.match(err.join(''), /image_roots\.0: .*not an absolute path/);
  await assert.rejects(readdir(out), /ENOENT/);
});

test('a root under /home opens ProtectHome to read-only (ProtectHome=yes would hide it)', () => {
  const text = renderPathsDropIn([{ path: '/home/vms', why: 'image_roots' }], 'test');
  assert.match(text, /^ProtectHome=read-only$/m);
  assert.deepEqual(readWritePaths(text), ['-/home/vms']);
  assert.doesNotMatch(renderPathsDropIn([{ path: '/homestead/vms', why: 'image_roots' }], 'test'), /ProtectHome/);
});

test('--dry-run prints the drop-in and writes nothing; --output never reloads systemd', async () => {
  const config = join(dir, 'dry.yaml');
  await writeFile(config, 'image_roots: [/srv/dry]\n');
  const out = join(dir, 'dry-out');
  const { out: said, io } = captured();
  assert.equal(await installUnitCommand({ config, output: out, dryRun: true }, io, noSystemd), 0);
  assert.match(said.join(''), /dry run: not written/);
  assert.match(said.join(''), /ReadWritePaths="-\/srv\/dry"/);
  await assert.rejects(readdir(out), /ENOENT/);
  let reloads = 0;
  const running: InstallUnitSystem = { systemdRunning: async () => true, daemonReload: async () => void reloads++ };
  const result = await installUnit(
    { imageRoots: ['/srv/x'], scratchDir: '/srv/x', socket: '/run/k/a.sock', peerSocket: '/run/k/p.sock' },
    { source: 'test', outputDir: out },
    running,
  );
  assert.equal(result.written, true);
  assert.equal(result.reloaded, false);
  assert.equal(reloads, 0, "a drop-in outside systemd's directory is not what systemd reads");
  assert.deepEqual(await readdir(out), ['50-paths.conf'], 'no temporary file left behind');
});
