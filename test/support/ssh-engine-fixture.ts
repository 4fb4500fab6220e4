/**
 * What the SSH engines' e2e files share: the testbed host(s) brought up in
 * before() and down in after() with the engine's connection(s) opened once
 * for the file's tests, and the helpers those tests call (the SshError check,
 * ssh-keygen fingerprints, ssh children of this process, line servers,
 * draining a forwarded socket). Each e2e file calls openSshFixture() or
 * ssh2Fixture() once, at its top level.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OpenSshEngine, type OpenSshConnection } from '../../controller/transport/openssh-engine.js';
import { SshError, type SshFailureKind, type SshSettings } from '../../controller/transport/ssh-engine.js';
import { Ssh2Engine, type Ssh2Connection } from '../../controller/transport/ssh2-engine.js';
import { E2E_DIR, hostDown, hostExec, hostUp, rootSshConfigPath } from './testbed.js';

export const run = promisify(execFile);
export const AGENT_SOCK = '/run/kvmclone/agent.sock';
/** The testbed's client side: its key pair and known_hosts. */
export const CLIENT = join(E2E_DIR, 'client');
/** The OpenSSH files' host and its address. */
export const HOST = 'hosta';
export const ADDR = '169.254.201.2';

/** A fresh socket path in the host's /run/kvmclone. */
export const fresh = (): string => `/run/kvmclone/test-${randomBytes(6).toString('hex')}.sock`;

/** The SHA256 fingerprint ssh-keygen shows for a public key file. */
export async function fingerprint(file: string): Promise<string> {
  return (await run('ssh-keygen', ['-lf', file])).stdout.split(' ')[1];
}

/** Awaits `promise`, which must reject with an SshError of `kind` (whose message matches `message`, if given). */
export async function rejectsWithKind(promise: Promise<unknown>, kind: SshFailureKind, message?: RegExp): Promise<SshError> {
  const err = await promise.then(
    () => assert.fail(`expected an SshError of kind ${kind}, but it succeeded`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SshError, `expected an SshError, got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  if (message) assert.match(err.message, message);
  return err;
}

/** PIDs of this process's live ssh children (masters and mux clients). */
export function sshChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [comm, rest] = [stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), stat.slice(stat.lastIndexOf(')') + 2).split(' ')];
      if (comm === 'ssh' && rest[0] !== 'Z' && Number(rest[1]) === process.pid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Runs a shell script inside HOST; its output, trimmed. */
export async function onHost(script: string): Promise<string> {
  return (await hostExec(HOST, ['sh', '-c', script])).trim();
}

/** A local unix server answering each line with `${prefix}${line}`. */
export async function lineServer(path: string, prefix: string): Promise<net.Server> {
  const server = net.createServer((s) => s.on('data', (d) => s.write(`${prefix}${d.toString()}`)));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

/** Connects to `path` inside the host with python3, sends `ping`, prints the answer. */
export const pyPing = (path: string): string =>
  `import socket; s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(${JSON.stringify(path)}); s.sendall(b'ping\\n'); print(s.recv(100).decode().strip())`;

/** Reads a local socket to its end: how many bytes came and in how many seconds (connect included). */
export async function drain(path: string): Promise<{ bytes: number; seconds: number }> {
  const started = process.hrtime.bigint();
  let bytes = 0;
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(path);
    s.on('data', (b: Buffer) => (bytes += b.length))
      .on('end', resolve)
      .on('error', reject);
  });
  return { bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/** The OpenSSH engine's files: HOST up, one connection to it as root, filled in by before(). */
export interface OpenSshFixture {
  /** A temporary directory for the tests' own files. */
  dir: string;
  runtimeDir: string;
  settings: SshSettings;
  /** The connection the tests share; the last test of a file may close it. */
  conn: OpenSshConnection;
  hostFingerprint: string;
  engine(over?: Partial<SshSettings>): OpenSshEngine;
}

export function openSshFixture(): OpenSshFixture {
  const fx = { engine: (over: Partial<SshSettings> = {}) => new OpenSshEngine({ ...fx.settings, ...over }) } as OpenSshFixture;
  before(async () => {
    await hostDown(HOST);
    await hostUp(HOST, 1);
    fx.dir = await mkdtemp(join(tmpdir(), 'openssh-e2e-'));
    fx.runtimeDir = await mkdtemp(join(tmpdir(), 'kvmc-rt-'));
    // root: these tests cover the engine's generic features, exec included (the kvmclone account runs no commands: e2e/account.test.ts)
    const ciphers = ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com'];
    fx.settings = { configFile: rootSshConfigPath(), connectTimeoutS: 5, keepaliveS: 15, ciphers, runtimeDir: fx.runtimeDir };
    fx.hostFingerprint = await fingerprint(join(E2E_DIR, HOST, 'ssh', 'host_ed25519_key.pub'));
    fx.conn = await fx.engine().connect(HOST);
  });
  after(async () => {
    await fx.conn?.close();
    await hostDown(HOST);
    await rm(fx.dir, { recursive: true, force: true });
    await rm(fx.runtimeDir, { recursive: true, force: true });
  });
  return fx;
}

/** The ssh2 engine's files: hosta and hostb up, one connection to each as root, filled in by before(). */
export interface Ssh2Fixture {
  /** A temporary directory for the tests' own files; the engine's runtime directory is its rt/. */
  tmp: string;
  settings: SshSettings;
  engine: Ssh2Engine;
  hosta: Ssh2Connection;
  hostb: Ssh2Connection;
  /** Each host's key fingerprint, as ssh-keygen shows it. */
  hostKeyFp: Map<string, string>;
  /** An ssh_config in tmp that adds Host entries and then includes the testbed's. */
  configWith(name: string, lines: string[]): Promise<string>;
}

export function ssh2Fixture(): Ssh2Fixture {
  const fx = { hostKeyFp: new Map<string, string>() } as Ssh2Fixture;
  fx.configWith = async (name, lines) => {
    const file = join(fx.tmp, name);
    // Match all: an Include after a Host block would otherwise be part of that block
    await writeFile(file, [...lines, 'Match all', `Include ${rootSshConfigPath()}`, ''].join('\n'));
    return file;
  };
  before(async () => {
    await Promise.all([hostDown('hosta'), hostDown('hostb')]);
    await hostUp('hosta', 1);
    await hostUp('hostb', 2);
    fx.tmp = await mkdtemp(join(tmpdir(), 'kvmclone-ssh2-'));
    // root: these tests cover the engine's generic features, exec included (the kvmclone account runs no commands: e2e/account.test.ts)
    fx.settings = { configFile: rootSshConfigPath(), connectTimeoutS: 10, keepaliveS: 15, ciphers: [], runtimeDir: join(fx.tmp, 'rt') };
    fx.engine = new Ssh2Engine(fx.settings);
    for (const h of ['hosta', 'hostb']) fx.hostKeyFp.set(h, await fingerprint(join(E2E_DIR, h, 'ssh', 'host_ed25519_key.pub')));
    // one connection per host, shared by the file's tests (as kvmctl shares one per host across an operation)
    [fx.hosta, fx.hostb] = await Promise.all([fx.engine.connect('hosta'), fx.engine.connect('hostb')]);
  });
  after(async () => {
    await fx.hosta?.close();
    await fx.hostb?.close();
    await hostDown('hosta');
    await hostDown('hostb');
    if (fx.tmp) await rm(fx.tmp, { recursive: true, force: true });
  });
  return fx;
}
