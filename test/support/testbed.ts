/**
 * The testbed from TypeScript: bring simulated hosts up and down, run
 * commands inside them, manage their agents, and reach an agent's socket the
 * way kvmctl does — an OpenSSH streamlocal forward through the host's sshd.
 */
import { INSTALLED, installedAgentCommand } from './installed-package.js';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { AGENT_ENVIRONMENT, AGENT_NODE_OPTIONS } from '../../agent/node-options.js';
import { tryLockExclusive } from '../../agent/native/fd-calls.js';

const run = promisify(execFile);

/** Source directory of the testbed scripts (from dist/test/support → test/testbed). */
export const TESTBED_DIR = fileURLToPath(new URL('../../../test/testbed/', import.meta.url));
/** The built agent, as the command the testbed starts inside a host. */
export const AGENT_JS = fileURLToPath(new URL('../../agent/main.js', import.meta.url));
/** State directory of the e2e testbed. */
export const E2E_DIR = process.env.E2E ?? '/tmp/kvmclone-e2e';

const env = (): NodeJS.ProcessEnv => ({ ...process.env, E2E: E2E_DIR });

/** Runs one of test/testbed's scripts with the e2e state directory; resolves with its stdout. */
export async function testbedScript(name: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run(join(TESTBED_DIR, name), args, { env: { ...env(), ...extraEnv }, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${name} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

let testbedLock: Promise<FileHandle> | undefined;

/**
 * Takes the machine-wide testbed lock for the rest of this process's life.
 * Hosts have fixed names, addresses and namespaces, so two test processes
 * (two e2e files, or two people's runs) must never hold them at once; node
 * --test runs each file in its own process, so each file waits its turn
 * (trying again every half second: a blocking flock would hold a threadpool
 * thread for as long as the other file runs).
 */
export function lockTestbed(): Promise<FileHandle> {
  testbedLock ??= (async () => {
    const handle = await open('/tmp/kvmclone-testbed.lock', 'a');
    while (!tryLockExclusive(handle.fd)) await sleep(500);
    return handle;
  })();
  return testbedLock;
}

/** Brings host `name` up with the agent inside (default roots and socket). */
export async function hostUp(name: string, idx: number, extraEnv: NodeJS.ProcessEnv = {}): Promise<void> {
  await lockTestbed();
  await testbedScript('host-up.sh', [name, String(idx)], { AGENT_CMD: `exec ${agentCommand()}`, ...extraEnv });
}

/**
 * The command line a host's agent runs: the installed package's, as its unit
 * starts it, when scripts/test installed the package (installed-package.ts);
 * else node with the agent's options on the built tree.
 */
export function agentCommand(): string {
  if (INSTALLED) return installedAgentCommand();
  const environment = Object.entries(AGENT_ENVIRONMENT).map(([k, v]) => `${k}=${v}`);
  return `env ${environment.join(' ')} ${process.execPath} ${AGENT_NODE_OPTIONS.join(' ')} ${AGENT_JS}`;
}

/** Tears host `name` down (safe when it is partly up). */
export async function hostDown(name: string): Promise<void> {
  await lockTestbed();
  await testbedScript('host-down.sh', [name]);
}

/** Runs a command inside host `name`; resolves with stdout. */
export async function hostExec(name: string, argv: string[]): Promise<string> {
  return testbedScript('host-exec.sh', [name, ...argv]);
}

/** start | stop | kill | restart | status of the agent inside host `name`. */
export async function hostAgent(name: string, action: 'start' | 'stop' | 'kill' | 'restart' | 'status'): Promise<string> {
  return testbedScript('host-agent.sh', [name, action]);
}

/** The images directory inside every testbed host: where its libvirt keeps disks and where tests put theirs. */
export const IMAGES = '/var/lib/libvirt/images';

/** The host's /var/lib/libvirt/images as seen from outside (plain mode). */
export function hostImagesDir(name: string): string {
  return join(E2E_DIR, name, 'images');
}

/**
 * The ssh_config the testbed writes: `Host NAME` logs in as the unprivileged
 * account kvmclone (forwarding only, no commands), `Host NAME-root` as root.
 */
export function sshConfigPath(): string {
  return join(E2E_DIR, 'client', 'ssh_config');
}

/** The same hosts with every `Host NAME` logging in as root: for tests of generic SSH features such as exec. */
export function rootSshConfigPath(): string {
  return join(E2E_DIR, 'client', 'ssh_config.root');
}

/** The dedicated unprivileged SSH account the testbed creates (machine-wide) and kvmctl logs in as. */
export const SSH_ACCOUNT = 'kvmclone';

/** An OpenSSH -L forward of a remote unix socket to a local one. */
export interface SocketForward {
  readonly localSocket: string;
  close(): Promise<void>;
}

/**
 * Forwards `remoteSocket` on host `name` to a fresh local socket, like kvmctl's
 * OpenSSH engine — as the kvmclone account unless `configFile` says otherwise
 * (rootSshConfigPath() for a socket only root may connect to).
 */
export async function forwardAgentSocket(name: string, remoteSocket = '/run/kvmclone/agent.sock', configFile = sshConfigPath()): Promise<SocketForward> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-fwd-'));
  const localSocket = join(dir, 'agent.sock');
  const child: ChildProcess = spawn(
    'ssh',
    ['-F', configFile, '-N', '-o', 'ExitOnForwardFailure=yes', '-o', 'StreamLocalBindUnlink=yes', '-L', `${localSocket}:${remoteSocket}`, name],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  for (let i = 0; i < 200; i += 1) {
    try {
      await access(localSocket);
      break;
    } catch {
      if (child.exitCode !== null) throw new Error(`ssh forward to ${name} failed: ${stderr}`);
      await sleep(50);
    }
  }
  return {
    localSocket,
    close: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Routes hosta <-> hostb through this machine (the testbed's hosts have only
 * their link to it): for what runs on one host and reaches the other — the
 * rsync baseline, kvmctl run on a host. Returns the undo.
 */
export async function routeHosts(): Promise<() => Promise<void>> {
  const forward = (await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim();
  const sh = (script: string): Promise<unknown> => run('bash', ['-c', script]);
  await sh('sysctl -qw net.ipv4.ip_forward=1 && ip -n kvmc-hosta route add 169.254.202.0/30 via 169.254.201.1 && ip -n kvmc-hostb route add 169.254.201.0/30 via 169.254.202.1');
  return async () => {
    await sh(`ip -n kvmc-hosta route del 169.254.202.0/30 || true; ip -n kvmc-hostb route del 169.254.201.0/30 || true; sysctl -qw net.ipv4.ip_forward=${forward}`);
  };
}
