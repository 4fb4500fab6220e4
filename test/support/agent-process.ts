/**
 * Runs the built agent (dist/agent/main.js) as a child process for tests, the
 * way systemd would: its own environment, its stdout collected as log lines.
 * `startAgentHarness` adds a private directory with both sockets (admin and
 * read-only) and an image root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { AGENT_NODE_OPTIONS } from '../../agent/node-options.js';
import { access, chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

/** Path of the compiled agent entry point. */
export const AGENT_MAIN = fileURLToPath(new URL('../../agent/main.js', import.meta.url));

/** A running (or exited) agent child process. */
export interface AgentProcess {
  readonly child: ChildProcess;
  readonly output: string[];
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
}

/**
 * Spawns the agent with `args`. Without `--audit-file` its audit trail goes
 * to a temporary directory removed when it exits, never to the host's
 * /var/log/kvmclone; without `--config` it reads an empty config there, never
 * the machine's /etc/kvmclone/agent.yaml (which the installed package puts
 * there, with sockets of its own).
 */
export function spawnAgent(args: string[], env: NodeJS.ProcessEnv = {}): AgentProcess {
  const tempDir = mkdtempSync(join(tmpdir(), 'kvmclone-test-agent-'));
  const auditArgs = args.includes('--audit-file') ? [] : ['--audit-file', join(tempDir, 'audit.log')];
  const configArgs = args.includes('--config') ? [] : ['--config', join(tempDir, 'agent.yaml')];
  if (configArgs.length > 0) writeFileSync(join(tempDir, 'agent.yaml'), '');
  const child = spawn(process.execPath, [...AGENT_NODE_OPTIONS, AGENT_MAIN, ...configArgs, ...auditArgs, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.once('exit', () => rmSync(tempDir, { recursive: true, force: true }));
  const output: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (s: string) => output.push(...s.split('\n').filter(Boolean)));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => output.push(...s.split('\n').filter(Boolean)));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, output, exited };
}

/** Waits until `path` exists, or throws with the agent's output after `ms`. */
export async function waitForSocket(agent: AgentProcess, path: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      await access(path);
      return;
    } catch {
      if (agent.child.exitCode !== null) break;
      await sleep(50);
    }
  }
  throw new Error(`agent socket ${path} did not appear; agent output:\n${agent.output.join('\n')}`);
}

/** A running agent in a private directory, with both of its sockets (for role, fuzz and process tests). */
export interface AgentHarness {
  readonly agent: AgentProcess;
  /** The private directory (removed by `stop`). */
  readonly dir: string;
  /** The admin socket: every RPC. */
  readonly socket: string;
  /** The read-only socket: what agent/rpc/role-guard.ts lets through, PERMISSION_DENIED for the rest. */
  readonly roSocket: string;
  /** The one image root. */
  readonly imagesRoot: string;
  /** SIGTERM, wait for the exit (SIGKILL after 15 s), remove the directory; resolves with the exit code. */
  stop(): Promise<number | string>;
}

/** What a harness agent gets besides its sockets and image root. */
export interface AgentHarnessOptions {
  /** libvirt URI (default test:///default: libvirt's in-process test driver, no libvirtd). */
  libvirtUri?: string;
  /** Extra agent.yaml text (socket_group, ro_socket_mode, ...). */
  config?: string;
  /** Extra command-line arguments. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts the agent with its sockets in `<tmp>/run/kvmclone/` (agent.sock and
 * agent-ro.sock) and its image root at `<tmp>/images`; resolves once both
 * sockets exist.
 */
export async function startAgentHarness(options: AgentHarnessOptions = {}): Promise<AgentHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-agent-harness-'));
  // Sockets and images must be reachable by the unprivileged callers some tests run.
  await chmod(dir, 0o755);
  const socket = join(dir, 'run', 'kvmclone', 'agent.sock');
  const roSocket = join(dir, 'run', 'kvmclone', 'agent-ro.sock');
  const imagesRoot = join(dir, 'images');
  await mkdir(imagesRoot);
  const configPath = join(dir, 'agent.yaml');
  await writeFile(configPath, options.config ?? '');
  const agent = spawnAgent(
    [
      '--config',
      configPath,
      '--socket',
      socket,
      '--ro-socket',
      roSocket,
      '--images-root',
      imagesRoot,
      '--libvirt-uri',
      options.libvirtUri ?? 'test:///default',
      // The harness's trail stays in its directory, unless a test names its own.
      ...((options.args ?? []).includes('--audit-file') ? [] : ['--audit-file', join(dir, 'audit', 'audit.log')]),
      ...(options.args ?? []),
    ],
    options.env,
  );
  const stop = async (): Promise<number | string> => {
    if (agent.child.exitCode === null && agent.child.signalCode === null) {
      agent.child.kill('SIGTERM');
      const killer = setTimeout(() => agent.child.kill('SIGKILL'), 15_000);
      await agent.exited;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
    return agent.exited;
  };
  try {
    await waitForSocket(agent, socket);
    await waitForSocket(agent, roSocket);
  } catch (err) {
    await stop();
    throw err;
  }
  return { agent, dir, socket, roSocket, imagesRoot, stop };
}
