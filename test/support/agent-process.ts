/**
 * Runs the built agent (dist/agent/main.js) as a child process for tests, the
 * way systemd would: its own environment, its stdout collected as log lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { AGENT_NODE_OPTIONS } from '../../agent/node-options.js';
import { access } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
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
 * Spawns the agent with `args`. Without `--audit-file` (or a config file)
 * its audit trail goes to a temporary directory removed when it exits, never
 * to the host's /var/log/kvmclone.
 */
export function spawnAgent(args: string[], env: NodeJS.ProcessEnv = {}): AgentProcess {
  const auditDir = args.includes('--audit-file') || args.includes('--config') ? undefined : mkdtempSync(join(tmpdir(), 'kvmclone-test-audit-'));
  const auditArgs = auditDir === undefined ? [] : ['--audit-file', join(auditDir, 'audit.log')];
  const child = spawn(process.execPath, [...AGENT_NODE_OPTIONS, AGENT_MAIN, ...auditArgs, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (auditDir !== undefined) child.once('exit', () => rmSync(auditDir, { recursive: true, force: true }));
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
