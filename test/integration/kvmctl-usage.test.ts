/**
 * kvmctl's command line without any host: usage errors, bad names, bad
 * config files — each exit 2 with a message saying what is wrong.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { KVMCTL_MAIN, kvmctl } from '../support/kvmctl.js';

let state: string;
before(async () => {
  state = await mkdtemp(join(tmpdir(), 'kvmctl-usage-'));
});
after(async () => {
  await rm(state, { recursive: true, force: true });
});

test('a missing option or argument is a usage error (exit 2)', async () => {
  const missing = await kvmctl(['clone', 'vm1', '--to', 'b'], { stateDir: state });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /required option '--from <host>'/);
  assert.equal((await kvmctl(['ops', 'show'], { stateDir: state })).code, 2);
  assert.equal((await kvmctl(['no-such-verb'], { stateDir: state })).code, 2);
});

test('bad VM names and hosts are refused before anything connects (exit 2)', async () => {
  const name = await kvmctl(['--json', 'clone', 'vm1;reboot', '--from', 'a', '--to', 'b'], { stateDir: state });
  assert.equal(name.code, 2);
  assert.match(String((name.result?.error as { message: string }).message), /not a valid VM name/);
  const host = await kvmctl(['--json', 'sync', 'vm1', '--from', '-oProxyCommand=touch /tmp/x', '--to', 'b'], { stateDir: state });
  assert.equal(host.code, 2);
  assert.match(String((host.result?.error as { message: string }).message), /starts with '-'/);
  const same = await kvmctl(['--json', 'clone', 'vm1', '--from', 'a', '--to', 'a'], { stateDir: state });
  assert.equal(same.code, 2);
  assert.match(String((same.result?.error as { message: string }).message), /needs a new name/);
});

test('a bad config file names every bad key (exit 2)', async () => {
  const config = join(state, 'kvmctl.yaml');
  await writeFile(config, 'ssh:\n  engine: telnet\ntransfer:\n  compression: zstd\n');
  const out = await kvmctl(['--json', '--config', config, 'ls', 'a'], { stateDir: state });
  assert.equal(out.code, 2);
  const message = String((out.result?.error as { message: string }).message);
  assert.match(message, /ssh\.engine/);
  assert.match(message, /transfer\.compression: unknown key/);
});

test('ops list on an empty history works (exit 0)', async () => {
  const out = await kvmctl(['--json', 'ops', 'list'], { stateDir: state });
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(out.result?.operations, []);
});

test('a reader that goes away ends the output quietly: no EPIPE stack, exit 0 (kvmctl ops list | head)', async () => {
  const child = spawn(process.execPath, [KVMCTL_MAIN, 'ops', 'list'], { env: { ...process.env, XDG_STATE_HOME: state }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /EPIPE|Error/);
});

test('audit: bad --since, --vm, --op or --limit is a usage error before anything connects (exit 2)', async () => {
  for (const [flag, value, message] of [
    ['--since', 'yesterday', /--since: "yesterday" is neither a duration/],
    ['--vm', 'vm1;reboot', /--vm: .*not a valid VM name/],
    ['--op', '../x', /--op: .*not a valid id/],
    ['--limit', '0', /--limit: "0" is not a number from 1 to 100000/],
  ] as const) {
    const out = await kvmctl(['--json', 'audit', 'a', flag, value], { stateDir: state });
    assert.equal(out.code, 2, `${flag} ${value}: ${out.stderr}`);
    assert.match(String((out.result?.error as { message: string }).message), message);
  }
});

test('ops show of an unknown id: NOT_FOUND (exit 3), --agent-records accepted', async () => {
  const out = await kvmctl(['--json', 'ops', 'show', 'no-such-op', '--agent-records'], { stateDir: state });
  assert.equal(out.code, 3, out.stderr);
  assert.equal((out.result?.error as { code: string }).code, 'NOT_FOUND');
});

test('gc: a bad --older-than or host is a usage error before anything connects (exit 2)', async () => {
  const age = await kvmctl(['--json', 'gc', 'hosta', '--older-than', 'soon'], { stateDir: state });
  assert.equal(age.code, 2);
  assert.match(String((age.result?.error as { message: string }).message), /--older-than: "soon" is not a duration/);
  const host = await kvmctl(['--json', 'gc', '-oProxyCommand=touch /tmp/x'], { stateDir: state });
  assert.equal(host.code, 2);
  assert.equal((await kvmctl(['gc'], { stateDir: state })).code, 2);
});

test('kvmctl config set|get|unset|show edit kvmctl.yaml in place; a refused change leaves the file byte for byte', async () => {
  const { readFile } = await import('node:fs/promises');
  const config = join(state, 'edit.yaml');
  const original = '# site settings\nssh:\n  engine: openssh # fast\n';
  await writeFile(config, original);
  const k = (...argv: string[]): ReturnType<typeof kvmctl> => kvmctl(['--config', config, 'config', ...argv], { stateDir: state });
  assert.equal((await k('set', 'transfer.bwlimit', '50M')).code, 0);
  const bad = await k('set', 'transfer.bwlimit', 'fast');
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /transfer\.bwlimit/);
  assert.equal(await readFile(config, 'utf8'), `${original}transfer:\n  bwlimit: 50M\n`);
  const got = await k('get', 'transfer.bwlimit');
  assert.deepEqual([got.code, got.stdout], [0, '50M\n']);
  assert.equal((await k('get', 'retry.attempts')).code, 1, 'not set: exit 1');
  // the edited file is what kvmctl loads
  const loaded = await kvmctl(['--json', '--config', config, 'ops', 'list'], { stateDir: state });
  assert.equal(loaded.code, 0, loaded.stdout);
  assert.equal((await k('unset', 'transfer.bwlimit')).code, 0);
  assert.equal(await readFile(config, 'utf8'), original);
  const shown = await k('show');
  assert.equal(shown.stdout, `# ${config}\n${original}`);
  // a file kvmctl cannot load can still be mended with config
  await writeFile(config, 'ssh:\n  engine: telnet\n');
  assert.equal((await kvmctl(['--config', config, 'ops', 'list'], { stateDir: state })).code, 2);
  assert.equal((await k('unset', 'ssh.engine')).code, 0);
  assert.equal((await kvmctl(['--config', config, 'ops', 'list'], { stateDir: state })).code, 0);
});
