import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentOptions } from '../../agent/config/agent-config.js';
import { ConfigError } from '../../shared/config/config-file.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

test('a valid file is compiled: durations to ms, modes to numbers', async () => {
  const config = await file('ok.yaml', 'socket: /run/x/agent.sock\nsocket_mode: "0640"\nimage_roots: [/srv/images]\nshutdown_grace: 2s\nlog_level: debug\n');
  const options = await loadAgentOptions({ config });
  assert.equal(options.socket, '/run/x/agent.sock');
  assert.equal(options.socketMode, 0o640);
  assert.deepEqual(options.imageRoots, ['/srv/images']);
  assert.equal(options.shutdownGraceMs, 2000);
  assert.equal(options.logLevel, 'debug');
  assert.equal(options.libvirtUri, 'qemu:///system');
});

test('flags override the file', async () => {
  const config = await file('base.yaml', 'socket: /run/x/agent.sock\nimage_roots: [/srv/images]\n');
  const options = await loadAgentOptions({ config, socket: '/tmp/s.sock', imagesRoot: ['/a', '/b'], libvirtUri: 'test:///default' });
  assert.equal(options.socket, '/tmp/s.sock');
  assert.deepEqual(options.imageRoots, ['/a', '/b']);
  assert.equal(options.libvirtUri, 'test:///default');
});

test('every bad key is named at once', async () => {
  const config = await file('bad.yaml', 'sockt: /x\nimage_roots: [relative/dir, /ok, /a/../b]\nlog_level: loud\nshutdown_grace: soon\nsocket_mode: 777\n');
  await assert.rejects(loadAgentOptions({ config }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    const text = err.problems.join('\n');
    assert.match(text, /sockt: unknown key/);
    assert.match(text, /image_roots\.0: .*not an absolute path/);
    assert.match(text, /image_roots\.2: .*'\.\.' segment/);
    assert.match(text, /log_level: /);
    assert.match(text, /shutdown_grace: "soon" is not a duration/);
    assert.match(text, /socket_mode: /);
    assert.equal(err.problems.length, 6);
    return true;
  });
});

test('a world-accessible socket mode is refused; broken YAML and a missing named file are config errors', async () => {
  await assert.rejects(loadAgentOptions({ config: await file('mode.yaml', 'socket_mode: "0666"\n') }), /must not be accessible to others/);
  await assert.rejects(loadAgentOptions({ config: await file('broken.yaml', 'socket: [unclosed\n') }), /not valid YAML/);
  await assert.rejects(loadAgentOptions({ config: join(dir, 'absent.yaml') }), /cannot read the file: ENOENT/);
  await assert.rejects(loadAgentOptions({ config: await file('empty-roots.yaml', 'image_roots: []\n') }), /at least one images root/);
});

test('audit: defaults, sizes with units, keep "all", --audit-file over the file, bad values named', async () => {
  const defaults = await loadAgentOptions({ config: await file('empty.yaml', '{}\n') });
  assert.deepEqual(defaults.audit, { file: '/var/log/kvmclone/audit.log', maxBytes: 64 * 1024 * 1024, keep: 8 });
  const config = await file('audit.yaml', 'audit:\n  file: /srv/audit/a.log\n  max_size: 512KiB\n  keep: all\n');
  assert.deepEqual((await loadAgentOptions({ config })).audit, { file: '/srv/audit/a.log', maxBytes: 512 * 1024, keep: 'all' });
  assert.deepEqual((await loadAgentOptions({ config, auditFile: '/tmp/x/audit.log' })).audit, { file: '/tmp/x/audit.log', maxBytes: 512 * 1024, keep: 'all' });
  assert.equal((await loadAgentOptions({ config: await file('bytes.yaml', 'audit:\n  max_size: 1000000\n') })).audit.maxBytes, 1_000_000);
  const bad = await file('bad-audit.yaml', 'audit:\n  file: audit.log\n  max_size: 1KiB\n  keep: 0\n  rotate: daily\n');
  await assert.rejects(loadAgentOptions({ config: bad }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    const text = err.problems.join('\n');
    assert.match(text, /audit\.file: .*not an absolute path/);
    assert.match(text, /audit\.max_size: must be at least 4KiB/);
    assert.match(text, /audit\.keep: /);
    assert.match(text, /audit\.rotate: unknown key/);
    return true;
  });
  await assert.rejects(loadAgentOptions({ config: await file('bad-size.yaml', 'audit:\n  max_size: lots\n') }), /audit\.max_size: "lots" is not a size/);
});

test('memory.soft_limit: 164MiB by default, sizes with units, "off" is 0, too small or unknown values named', async () => {
  assert.equal((await loadAgentOptions({ config: await file('empty.yaml', '{}\n') })).memorySoftLimit, 164 * 1024 * 1024);
  assert.equal((await loadAgentOptions({ config: await file('mem.yaml', 'memory:\n  soft_limit: 1GiB\n') })).memorySoftLimit, 1024 ** 3);
  assert.equal((await loadAgentOptions({ config: await file('mem-off.yaml', 'memory:\n  soft_limit: "off"\n') })).memorySoftLimit, 0);
  await assert.rejects(loadAgentOptions({ config: await file('mem-small.yaml', 'memory:\n  soft_limit: 32MiB\n') }), /memory\.soft_limit: must be at least 64MiB/);
  await assert.rejects(loadAgentOptions({ config: await file('mem-key.yaml', 'memory:\n  hard_limit: 1GiB\n') }), /memory\.hard_limit: unknown key/);
});

test('deploy/agent.yaml.example is a valid config, audit section included', async () => {
  const example = new URL('../../../deploy/agent.yaml.example', import.meta.url).pathname;
  const options = await loadAgentOptions({ config: example });
  assert.deepEqual(options.audit, { file: '/var/log/kvmclone/audit.log', maxBytes: 64 * 1024 * 1024, keep: 8 });
});

test('the read-only socket: agent-ro.sock beside the socket by default, 0660, no group; --ro-socket and the file override it', async () => {
  const defaults = await loadAgentOptions({ config: await file('ro-default.yaml', 'socket: /run/x/agent.sock\n') });
  assert.equal(defaults.roSocket, '/run/x/agent-ro.sock');
  assert.equal(defaults.roSocketMode, 0o660);
  assert.equal(defaults.roSocketGroup, undefined);
  const config = await file('ro.yaml', 'ro_socket: /run/y/ro.sock\nro_socket_mode: "0640"\nro_socket_group: 0\nsocket_group: "0"\n');
  const fromFile = await loadAgentOptions({ config });
  assert.deepEqual([fromFile.roSocket, fromFile.roSocketMode, fromFile.roSocketGroup, fromFile.socketGroup], ['/run/y/ro.sock', 0o640, 0, 0]);
  assert.equal((await loadAgentOptions({ config, roSocket: '/tmp/ro.sock' })).roSocket, '/tmp/ro.sock');
  // The contract's defaults, with no file at all.
  const none = await loadAgentOptions({ config: await file('empty.yaml', '') });
  assert.deepEqual([none.socket, none.roSocket], ['/run/kvmclone/agent.sock', '/run/kvmclone/agent-ro.sock']);
});

test('group names are resolved through NSS (getent) to numeric ids', async () => {
  const options = await loadAgentOptions({ config: await file('groups.yaml', 'socket_group: root\nro_socket_group: nogroup\n') });
  assert.equal(options.socketGroup, 0);
  assert.equal(options.roSocketGroup, 65534);
  // Without a group of its own, the read-only socket takes the admin socket's: whoever may change may read.
  const shared = await loadAgentOptions({ config: await file('group-shared.yaml', 'socket_group: nogroup\n') });
  assert.deepEqual([shared.socketGroup, shared.roSocketGroup], [65534, 65534]);
});

test('bad read-only socket settings are named with the other problems, at once', async () => {
  const config = await file(
    'ro-bad.yaml',
    'socket: /run/x/agent.sock\nro_socket: /run/x/agent.sock\nro_socket_mode: "0664"\nsocket_mode: "0606"\nro_socket_group: kvmclone-no-such-group\nsocket_group: kvmclone-no-such-admins\n',
  );
  await assert.rejects(loadAgentOptions({ config }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    const text = err.problems.join('\n');
    assert.match(text, /^socket_mode: the socket must not be accessible to others/m);
    assert.match(text, /^ro_socket_mode: the socket must not be accessible to others/m);
    assert.match(text, /^ro_socket: \/run\/x\/agent\.sock is also the admin socket/m);
    assert.match(text, /^ro_socket_group: no group named kvmclone-no-such-group \(getent group/m);
    assert.match(text, /^socket_group: no group named kvmclone-no-such-admins/m);
    assert.equal(err.problems.length, 5, text);
    return true;
  });
  await assert.rejects(
    loadAgentOptions({ config: await file('ro-peer.yaml', 'peer_socket: /run/p.sock\nro_socket: /run/p.sock\n') }),
    /ro_socket: \/run\/p\.sock is also the peer socket/,
  );
});
