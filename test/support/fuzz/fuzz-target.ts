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
 * any socket a later version adds (the read-only socket). The files it is set
 * on are planted by fuzz-fixtures.ts.
 */
import { execFile as execFileCb, execFileSync, spawn } from 'node:child_process';
import { chmod, lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { AGENT_NODE_OPTIONS } from '../../../agent/node-options.js';
import { AGENT_MAIN, waitForSocket, type AgentProcess } from '../agent-process.js';
import { readShippedUnit, serviceWords } from '../unit-file.js';
import type { FuzzWorld } from './fuzz-world.js';
import { isRoot, makeFixtures, plantImages, type FuzzFixtures } from './fuzz-fixtures.js';

const execFile = promisify(execFileCb);
const SANDBOX = fileURLToPath(new URL('../../../../test/integration/libvirt-sandbox.sh', import.meta.url));

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

async function listSockets(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const st = await lstat(join(dir, name)).catch(() => undefined);
    if (st?.isSocket()) out.push(join(dir, name));
  }
  return out.sort();
}

/** Which libvirt the agent talks to, and its URI (a sandbox is started here). */
async function startLibvirt(choice: LibvirtChoice, base: string): Promise<{ libvirt: 'sandbox' | 'test'; sandbox: string; uri: string }> {
  const sandboxWhy = sandboxUnavailable();
  if (choice === 'sandbox' && sandboxWhy) throw new Error(`libvirt sandbox unavailable: ${sandboxWhy}`);
  const libvirt: 'sandbox' | 'test' = choice === 'test' || (choice === 'auto' && sandboxWhy !== undefined) ? 'test' : 'sandbox';
  const sandbox = join(base, 'sandbox');
  const uri = libvirt === 'sandbox' ? (await execFile('bash', [SANDBOX, 'up', sandbox], { timeout: 180_000 })).stdout.trim() : 'test:///default';
  return { libvirt, sandbox, uri };
}

/** node's arguments for the agent: its options, main, an empty config of its own, the roots, libvirt, the audit file. */
async function agentArguments(fx: FuzzFixtures, socket: string, uri: string): Promise<string[]> {
  // The fuzzed agent's audit trail stays in the run's directory (never the host's /var/log/kvmclone).
  // An empty config of its own: never the machine's /etc/kvmclone/agent.yaml (the installed package's).
  await writeFile(join(fx.base, 'agent.yaml'), '');
  return [
    ...AGENT_NODE_OPTIONS,
    AGENT_MAIN,
    '--config',
    join(fx.base, 'agent.yaml'),
    '--socket',
    socket,
    ...fx.roots.flatMap((r) => ['--images-root', r]),
    '--libvirt-uri',
    uri,
    '--audit-file',
    join(fx.base, 'audit', 'audit.log'),
  ];
}

/** The command that starts the agent, and the isolation it gets (none unless root with unshare and setpriv). */
interface AgentLaunch {
  command: string;
  args: string[];
  privateTmp: string | undefined;
  capabilities: string | undefined;
}

/** As the unit runs it when `isolate`: a private /tmp, the unit's bounding set, no new privileges; else plain node. */
async function agentLaunch(isolate: boolean, base: string, agentArgs: string[]): Promise<AgentLaunch> {
  const privateTmp = isolate ? join(base, 'agent-tmp') : undefined;
  const capabilities = isolate ? unitBoundingSet() : undefined;
  if (privateTmp === undefined || capabilities === undefined) return { command: process.execPath, args: agentArgs, privateTmp, capabilities };
  await mkdir(privateTmp, { mode: 0o1777 });
  await chmod(privateTmp, 0o1777);
  // PrivateTmp= and CapabilityBoundingSet=/NoNewPrivileges= as the unit has them; exec keeps the pid.
  // A checkout under /tmp (a CI clone) would vanish under the private /tmp: it is bound back at its own path inside it.
  const project = resolve(dirname(AGENT_MAIN), '..', '..');
  const keep = project.startsWith('/tmp/') ? project : '';
  const script = [
    'if [ -n "$2" ]; then mkdir -p "$1${2#/tmp}" && mount --bind "$2" "$1${2#/tmp}"; fi',
    'mount --rbind "$1" /tmp',
    'shift 2',
    'exec setpriv --bounding-set "$1" --no-new-privs -- "${@:2}"',
  ].join(' && ');
  const args = ['--mount', '--propagation', 'private', '--', 'bash', '-c', script, 'fuzz-agent', privateTmp, keep, capabilities, process.execPath, ...agentArgs];
  return { command: 'unshare', args, privateTmp, capabilities };
}

/** Spawns the agent, keeps its last 2000 output lines, and waits until its sockets are bound. */
async function launchAgent(launch: AgentLaunch, socket: string): Promise<AgentProcess> {
  const child = spawn(launch.command, launch.args, { env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
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
  return agent;
}

/** The target's close(): SIGTERM (SIGKILL after 30 s), the exit code, then the sandbox down; once, however often called. */
function closer(agent: AgentProcess, libvirt: 'sandbox' | 'test', sandbox: string): () => Promise<number | string> {
  const { child, exited } = agent;
  let closed: Promise<number | string> | undefined;
  return () =>
    (closed ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      if (libvirt === 'sandbox') await execFile('bash', [SANDBOX, 'down', sandbox], { timeout: 120_000 }).catch(() => undefined);
      return code;
    })());
}

/** Sets up fixtures and starts the agent. */
export async function startFuzzTarget(options: { seed: number; libvirt?: LibvirtChoice; isolate?: boolean }): Promise<FuzzTarget> {
  const fx = await makeFixtures(options.seed);
  const { outside, layout } = fx;
  const { libvirt, sandbox, uri } = await startLibvirt(options.libvirt ?? 'auto', fx.base);
  const socket = join(fx.run, 'agent.sock');
  const agentArgs = await agentArguments(fx, socket, uri);
  const isolate = (options.isolate ?? true) && isRoot() && have('unshare') && have('setpriv');
  const launch = await agentLaunch(isolate, fx.base, agentArgs);
  const agent = await launchAgent(launch, socket);
  const world: FuzzWorld = {
    roots: fx.roots,
    images: layout.images,
    links: layout.links.map(([p]) => p),
    canaries: [join(outside, 'secret.txt'), join(outside, 'secret.qcow2'), join(outside, 'dir', 'nested.txt'), join(outside, 'dir'), join(outside, 'VARS.fd')],
    sockets: await listSockets(fx.run),
    marker: fx.marker,
    harvested: new Map(),
  };
  return {
    world,
    agent,
    base: fx.base,
    outside,
    privateTmp: launch.privateTmp,
    libvirt,
    capabilities: launch.capabilities,
    readableCanaries: new Set([layout.hard[1]]),
    replant: () => plantImages(layout),
    close: closer(agent, libvirt, sandbox),
  };
}

/** Removes the target's directory (after close, and after the caller looked at what it needed). */
export async function removeFuzzTarget(target: FuzzTarget): Promise<void> {
  await rm(target.base, { recursive: true, force: true });
}
