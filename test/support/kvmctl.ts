/**
 * Runs the built kvmctl (dist/controller/main.js) as a user would, with the
 * testbed's ssh config and a private history database, and parses its
 * --json output: NDJSON events, the last line being the result.
 */
import { kvmctlCommand } from './installed-package.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { E2E_DIR, sshConfigPath, TESTBED_DIR } from './testbed.js';

/** Path of the compiled kvmctl entry point. */
export { KVMCTL_MAIN } from './installed-package.js';

/** The outcome of one kvmctl run. */
export interface KvmctlRun {
  code: number;
  stdout: string;
  stderr: string;
  events: Record<string, unknown>[];
  result: Record<string, unknown> | undefined;
}

/** A running kvmctl whose events can be watched as they come. */
export interface KvmctlProcess {
  child: ChildProcess;
  onEvent(listener: (event: Record<string, unknown>) => void): void;
  done: Promise<KvmctlRun>;
}

/** How a test runs kvmctl: its state directory, and optionally the engine, extra global flags, and the host it runs on. */
export interface KvmctlOptions {
  stateDir: string;
  engine?: 'openssh' | 'ssh2';
  extraGlobal?: string[];
  /** Run kvmctl inside this testbed host (host-exec.sh) instead of on this machine: kvmctl on a hypervisor. */
  onHost?: string;
}

/** Starts kvmctl with `args` (global flags for the testbed are added in front). */
export function startKvmctl(args: string[], opts: KvmctlOptions): KvmctlProcess {
  const global = ['--ssh-config', sshConfigPath(), ...(opts.engine ? ['--engine', opts.engine] : []), ...(opts.extraGlobal ?? [])];
  const argv = [...kvmctlCommand(), ...global, ...args];
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_STATE_HOME: opts.stateDir, XDG_CONFIG_HOME: opts.stateDir };
  // inside a host /run is its own: no runtime directory of this machine's session there
  if (opts.onHost !== undefined) {
    delete env.XDG_RUNTIME_DIR;
    env.E2E = E2E_DIR; // host-exec.sh finds the host under the same state root as the rest of the tests
  }
  const [file, ...rest] = opts.onHost !== undefined ? [join(TESTBED_DIR, 'host-exec.sh'), opts.onHost, ...argv] : argv;
  const child = spawn(file ?? process.execPath, rest, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let pending = '';
  const events: Record<string, unknown>[] = [];
  const listeners: ((e: Record<string, unknown>) => void)[] = [];
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    pending += s;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const event = JSON.parse(line) as Record<string, unknown>;
      events.push(event);
      for (const l of listeners) l(event);
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<KvmctlRun>((resolve) =>
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr, events, result: events.filter((e) => e.type === 'result').at(-1) })),
  );
  return { child, onEvent: (l) => listeners.push(l), done };
}

/** Runs kvmctl to the end. */
export function kvmctl(args: string[], opts: KvmctlOptions): Promise<KvmctlRun> {
  return startKvmctl(args, opts).done;
}

/**
 * Writes the kvmctl.yaml that runs with `stateDir` read (XDG_CONFIG_HOME is
 * the state directory): e.g. `retry:` settings for a test whose fault does
 * not heal, so the run gives up at once instead of after a 30 s outage's
 * worth of reconnects.
 */
export async function writeKvmctlConfig(stateDir: string, yaml: string): Promise<void> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(`${stateDir}/kvmclone`, { recursive: true });
  await writeFile(`${stateDir}/kvmclone/kvmctl.yaml`, yaml);
}

/** A retry section that gives a run one quick reconnect: for faults that do not heal (an agent killed and left down). */
export const ONE_QUICK_RETRY = 'retry:\n  attempts: 1\n  base_delay: 100ms\n  max_delay: 100ms\n';

/**
 * What a kvmctl run said, for an assertion's message: the end of its stdout
 * without the progress events (which would crowd out the rest), and stderr.
 */
export function said(out: KvmctlRun): string {
  return `${out.stdout
    .split('\n')
    .filter((l) => !l.includes('"progress"'))
    .join('\n')
    .slice(-4000)}\n${out.stderr}`;
}

/**
 * A set-up's clone of `vm` from hosta to hostb (`extra`: more clone flags,
 * e.g. `--name`), which must succeed; resolves with the run for its result.
 */
export async function cloneToHostb(vm: string, stateDir: string, extra: readonly string[] = []): Promise<KvmctlRun> {
  const out = await kvmctl(['--json', 'clone', vm, '--from', 'hosta', '--to', 'hostb', ...extra], { stateDir });
  if (out.code !== 0) throw new Error(`set-up clone of ${vm} exited ${out.code}: ${said(out)}`);
  return out;
}
