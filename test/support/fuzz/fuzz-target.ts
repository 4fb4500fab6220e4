/**
 * The agent the fuzzer attacks, set up as on a hypervisor: a real agent
 * process (dist/agent/main.js) with two image roots holding qcow2 and raw
 * images (some owned by another user, mode 0600), symlinks out of the roots
 * (single, chained, dangling, to directories, relative), a hard link to a
 * canary, a qcow2 whose header names a backing file outside; a canary tree
 * outside the roots; and libvirt — a throwaway real libvirtd
 * (test/integration/libvirt-sandbox.sh) when running as root with libvirt
 * installed, else libvirt's test driver.
 *
 * As root the agent runs the way the systemd unit runs it: in a mount
 * namespace of its own with a private /tmp (PrivateTmp=, so whatever it
 * leaves in /tmp is seen, and nothing of another test is mistaken for it),
 * with the unit's CapabilityBoundingSet and NoNewPrivileges (setpriv).
 * Every socket in the agent's runtime directory is fuzzed: admin, peer, and
 * any socket a later version adds (the read-only socket).
 */
import { execFile as execFileCb, execFileSync, spawn } from 'node:child_process';
import { chown, chmod, link, lstat, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { AGENT_NODE_OPTIONS } from '../../../agent/node-options.js';
import { AGENT_MAIN, waitForSocket, type AgentProcess } from '../agent-process.js';
import { readShippedUnit, serviceWords } from '../unit-file.js';
import type { FuzzWorld } from './fuzz-world.js';
import { armAtimes } from './canary.js';

const execFile = promisify(execFileCb);
const SANDBOX = fileURLToPath(new URL('../../../../test/integration/libvirt-sandbox.sh', import.meta.url));

/** uid/gid that owns some images (libvirt-qemu on Debian); the agent needs CAP_DAC_OVERRIDE for them. */
const OTHER_OWNER = 64055;

/** How libvirt is provided. */
export type LibvirtChoice = 'auto' | 'sandbox' | 'test';

/** A running agent with its fixtures. */
export interface FuzzTarget {
  readonly world: FuzzWorld;
  readonly agent: AgentProcess;
  readonly base: string;
  /** The canary tree outside the roots. */
  readonly outside: string;
  /** The directory bind-mounted on the agent's /tmp, or undefined when not isolated. */
  readonly privateTmp: string | undefined;
  readonly libvirt: 'sandbox' | 'test';
  /** The capability bounding set the agent runs with (from the unit), or undefined when not applied. */
  readonly capabilities: string | undefined;
  /** Paths in the canary tree a legitimate read may touch (the hard-linked image is also under a root). */
  readonly readableCanaries: ReadonlySet<string>;
  /** Puts back fixture images and links a RemoveImage or a commit took away. */
  replant(): Promise<void>;
  /** Stops the agent (SIGTERM) and resolves with its exit code; then tears everything down. */
  close(): Promise<number | string>;
}

const isRoot = (): boolean => process.getuid?.() === 0;

function have(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the sandbox cannot be used here, or undefined. */
export function sandboxUnavailable(): string | undefined {
  if (!isRoot()) return 'not root';
  for (const tool of ['libvirtd', 'virtlogd', 'virsh', 'unshare', 'nsenter', 'qemu-system-x86_64']) if (!have(tool)) return `${tool} is not installed`;
  return undefined;
}

/** setpriv's --bounding-set argument for the unit's CapabilityBoundingSet (e.g. "-all,+chown,+dac_override"). */
export function unitBoundingSet(): string {
  const caps = serviceWords(readShippedUnit(), 'CapabilityBoundingSet');
  return ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
}

async function qemuImg(...args: string[]): Promise<void> {
  await execFile('qemu-img', args);
}

interface Layout {
  roots: string[];
  outside: string;
  images: string[];
  links: Array<[string, string]>;
  hard: [string, string];
}

async function plantImages(layout: Layout): Promise<void> {
  const [a, b, c, owned, evil] = layout.images as [string, string, string, string, string];
  const missing = async (p: string): Promise<boolean> =>
    lstat(p).then(
      () => false,
      () => true,
    );
  if (await missing(a)) await qemuImg('create', '-q', '-f', 'qcow2', a, '4M');
  if (await missing(b)) {
    await writeFile(b, Buffer.concat([Buffer.alloc(65536, 0x41), Buffer.alloc(65536 * 3)]));
  }
  if (await missing(c)) await qemuImg('create', '-q', '-f', 'qcow2', '-b', a, '-F', 'qcow2', c, '4M');
  if (await missing(owned)) {
    await qemuImg('create', '-q', '-f', 'qcow2', owned, '2M');
    if (isRoot()) await chown(owned, OTHER_OWNER, OTHER_OWNER);
    await chmod(owned, 0o600);
  }
  // A qcow2 under the roots whose header names a backing file outside them.
  if (await missing(evil)) await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', join(layout.outside, 'secret.qcow2'), '-F', 'qcow2', evil, '4M');
  for (const [path, target] of layout.links) if (await missing(path)) await symlink(target, path);
  if (await missing(layout.hard[0])) await link(layout.hard[1], layout.hard[0]).catch(() => undefined);
}

async function plantCanaries(outside: string, marker: string): Promise<void> {
  await mkdir(join(outside, 'dir'), { recursive: true });
  await writeFile(join(outside, 'secret.txt'), `canary ${marker}\n`);
  await writeFile(join(outside, 'dir', 'nested.txt'), 'nested canary\n');
  await qemuImg('create', '-q', '-f', 'qcow2', join(outside, 'secret.qcow2'), '4M');
  await qemuImg('create', '-q', '-f', 'qcow2', join(outside, 'hard-secret.qcow2'), '4M');
  await writeFile(join(outside, 'VARS.fd'), Buffer.alloc(4096, 0x55));
}

async function listSockets(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const st = await lstat(join(dir, name)).catch(() => undefined);
    if (st?.isSocket()) out.push(join(dir, name));
  }
  return out.sort();
}

/** Sets up fixtures and starts the agent. */
export async function startFuzzTarget(options: { seed: number; libvirt?: LibvirtChoice; isolate?: boolean }): Promise<FuzzTarget> {
  const marker = `kfz${options.seed.toString(36)}`;
  const base = await mkdtemp('/var/tmp/kvmclone-fuzz-');
  const roots = [join(base, 'images'), join(base, 'images2')];
  const outside = join(base, 'outside');
  const run = join(base, 'run');
  for (const d of [...roots, run]) await mkdir(d, { recursive: true });
  await plantCanaries(outside, marker);
  const [r1, r2] = roots as [string, string];
  const layout: Layout = {
    roots,
    outside,
    images: [join(r1, 'base.qcow2'), join(r1, 'data.raw'), join(r2, 'overlay.qcow2'), join(r2, 'owned-by-qemu.qcow2'), join(r1, 'backing-outside.qcow2')],
    links: [
      [join(r1, 'link-secret.qcow2'), join(outside, 'secret.qcow2')],
      [join(r1, 'chain-1.qcow2'), join(r1, 'chain-2.qcow2')],
      [join(r1, 'chain-2.qcow2'), join(r2, 'chain-3.qcow2')],
      [join(r2, 'chain-3.qcow2'), join(outside, 'secret.qcow2')],
      [join(r1, 'up-link.txt'), '../outside/secret.txt'],
      [join(r1, 'dir-link'), outside],
      [join(r2, 'etc-link'), '/etc'],
      [join(r1, `dangling-${marker}.qcow2`), join(outside, `created-through-${marker}.qcow2`)],
      [join(r2, `dangling-nvram-${marker}.fd`), join(outside, `nvram-through-${marker}.fd`)],
      [join(r1, 'VARS.fd'), join(outside, 'VARS.fd')],
    ],
    hard: [join(r2, 'hard.qcow2'), join(outside, 'hard-secret.qcow2')],
  };
  await plantImages(layout);
  await armAtimes(outside);

  const choice = options.libvirt ?? 'auto';
  const sandboxWhy = sandboxUnavailable();
  if (choice === 'sandbox' && sandboxWhy) throw new Error(`libvirt sandbox unavailable: ${sandboxWhy}`);
  const libvirt: 'sandbox' | 'test' = choice === 'test' || (choice === 'auto' && sandboxWhy !== undefined) ? 'test' : 'sandbox';
  const sandbox = join(base, 'sandbox');
  const uri = libvirt === 'sandbox' ? (await execFile('bash', [SANDBOX, 'up', sandbox], { timeout: 180_000 })).stdout.trim() : 'test:///default';

  const socket = join(run, 'agent.sock');
  // The fuzzed agent's audit trail stays in the run's directory (never the host's /var/log/kvmclone).
  // An empty config of its own: never the machine's /etc/kvmclone/agent.yaml (the installed package's).
  await writeFile(join(base, 'agent.yaml'), '');
  const agentArgs = [
    ...AGENT_NODE_OPTIONS,
    AGENT_MAIN,
    '--config',
    join(base, 'agent.yaml'),
    '--socket',
    socket,
    ...roots.flatMap((r) => ['--images-root', r]),
    '--libvirt-uri',
    uri,
    '--audit-file',
    join(base, 'audit', 'audit.log'),
  ];
  const isolate = (options.isolate ?? true) && isRoot() && have('unshare') && have('setpriv');
  const privateTmp = isolate ? join(base, 'agent-tmp') : undefined;
  const capabilities = isolate ? unitBoundingSet() : undefined;
  let command: string;
  let args: string[];
  if (privateTmp !== undefined && capabilities !== undefined) {
    await mkdir(privateTmp, { mode: 0o1777 });
    await chmod(privateTmp, 0o1777);
    // PrivateTmp= and CapabilityBoundingSet=/NoNewPrivileges= as the unit has them; exec keeps the pid.
    command = 'unshare';
    // A checkout under /tmp (a CI clone) would vanish under the private /tmp: it is bound back at its own path inside it.
    const project = resolve(dirname(AGENT_MAIN), '..', '..');
    const keep = project.startsWith('/tmp/') ? project : '';
    const script = [
      'if [ -n "$2" ]; then mkdir -p "$1${2#/tmp}" && mount --bind "$2" "$1${2#/tmp}"; fi',
      'mount --rbind "$1" /tmp',
      'shift 2',
      'exec setpriv --bounding-set "$1" --no-new-privs -- "${@:2}"',
    ].join(' && ');
    args = ['--mount', '--propagation', 'private', '--', 'bash', '-c', script, 'fuzz-agent', privateTmp, keep, capabilities, process.execPath, ...agentArgs];
  } else {
    command = process.execPath;
    args = agentArgs;
  }
  const child = spawn(command, args, { env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (s: string): void => {
    output.push(...s.split('\n').filter(Boolean));
    if (output.length > 2000) output.splice(0, output.length - 2000);
  };
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const agent: AgentProcess = { child, output, exited };
  await waitForSocket(agent, socket, 60_000);
  // The peer socket (and any other) is bound just after the admin socket.
  await sleep(500);
  const sockets = await listSockets(run);

  const world: FuzzWorld = {
    roots,
    images: layout.images,
    links: layout.links.map(([p]) => p),
    canaries: [join(outside, 'secret.txt'), join(outside, 'secret.qcow2'), join(outside, 'dir', 'nested.txt'), join(outside, 'dir'), join(outside, 'VARS.fd')],
    sockets,
    marker,
    harvested: new Map(),
  };
  let closed: Promise<number | string> | undefined;
  return {
    world,
    agent,
    base,
    outside,
    privateTmp,
    libvirt,
    capabilities,
    readableCanaries: new Set([layout.hard[1]]),
    replant: () => plantImages(layout),
    close: () =>
      (closed ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        const code = await exited;
        clearTimeout(timer);
        if (libvirt === 'sandbox') await execFile('bash', [SANDBOX, 'down', sandbox], { timeout: 120_000 }).catch(() => undefined);
        return code;
      })()),
  };
}

/** Removes the target's directory (after close, and after the caller looked at what it needed). */
export async function removeFuzzTarget(target: FuzzTarget): Promise<void> {
  await rm(target.base, { recursive: true, force: true });
}
