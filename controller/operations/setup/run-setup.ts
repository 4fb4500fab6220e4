/**
 * `kvmctl hosts setup`'s work on one host: probe it, decide (setup-plan.ts),
 * then make only the changes it needs over the same SSH connection (strict
 * host keys, as every connection): send the package and install it with
 * apt-get, enable and start (or restart after an upgrade) the agent's unit,
 * set up the SSH account, reload sshd when its settings changed. Returns
 * what changed; an empty list is a second run.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { failedPrecondition, KvmcloneError } from '../../../shared/errors.js';
import { commandLine, type SshConnection, type SshEngine } from '../../transport/ssh-engine.js';
import { HostSession } from '../../transport/host-session.js';
import { fetchLeftovers } from '../leftovers.js';
import { asRoot, probeHost, type HostState } from './host-probe.js';
import type { PackageFile } from './package-file.js';
import { AGENT_UNIT, planSetup, stepWords, type SetupStep } from './setup-plan.js';
import { ACCOUNT_SCRIPT } from './ssh-account.js';

/** What runSetup needs. */
export interface SetupRequest {
  readonly host: string;
  readonly pkg: PackageFile;
  /** The SSH account to set up, with the key line to authorize. */
  readonly account?: { readonly name: string; readonly key: string };
  readonly dryRun: boolean;
  readonly engine: SshEngine;
  readonly agentSocket: string;
  readonly callMs: number;
  readonly signal: AbortSignal;
  /** One line of progress for the user. */
  readonly say: (line: string) => void;
  readonly debug: (line: string) => void;
}

/** What runSetup did (or, dry, would do). */
export interface SetupOutcome {
  readonly steps: readonly SetupStep[];
  readonly changed: readonly string[];
}

/** Longest wait for apt-get (it may fetch dependencies). */
const INSTALL_TIMEOUT_MS = 15 * 60_000;
const STEP_TIMEOUT_MS = 2 * 60_000;

/** Runs argv on the host and fails with its words when it fails. */
async function must(conn: SshConnection, argv: readonly string[], what: string, options: { signal: AbortSignal; timeoutMs?: number; input?: Uint8Array }): Promise<string> {
  const r = await conn.exec(argv, { signal: options.signal, timeoutMs: options.timeoutMs ?? STEP_TIMEOUT_MS, input: options.input });
  if (r.code === 0) return r.stdout;
  const said = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-8).join('\n  ');
  throw new KvmcloneError(r.code === 3 ? 'FAILED_PRECONDITION' : 'INTERNAL', `${conn.host}: ${what} failed (exit ${r.code}): ${said}`, { detail: commandLine(argv) });
}

/** Operations the host's agent holds now (those an agent restart would cut), or none when it does not answer. */
async function heldOperations(req: SetupRequest): Promise<string[]> {
  try {
    const s = await HostSession.open(req.engine, req.host, { agentSocket: req.agentSocket, callMs: req.callMs, signal: req.signal, debug: req.debug });
    try {
      if (!s.info.capabilities.includes('transfer.leftovers')) return [];
      return [...new Set((await fetchLeftovers(s, req.signal)).filter((l) => l.running && l.operationId !== '').map((l) => l.operationId))];
    } finally {
      await s.close();
    }
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    req.debug(`${req.host}: the running agent did not answer (${err.message}); nothing it holds can be asked for`);
    return [];
  }
}

/** Sends the package to a fresh directory on the host and installs it with apt-get; the directory goes in any case. */
async function installPackage(conn: SshConnection, state: HostState, req: SetupRequest): Promise<void> {
  const dir = (await must(conn, ['mktemp', '-d', '/tmp/kvmclone-setup.XXXXXXXX'], 'making a directory for the package', { signal: req.signal })).trim();
  if (!/^\/tmp\/kvmclone-setup\.[A-Za-z0-9]{8}$/.test(dir)) throw failedPrecondition(`${conn.host}: mktemp said '${dir}'`);
  try {
    const file = `${dir}/${basename(req.pkg.path).replace(/[^A-Za-z0-9._+~-]/g, '_')}`;
    const bytes = await readFile(req.pkg.path);
    req.say(`  sending ${basename(req.pkg.path)} (${(bytes.length / 1048576).toFixed(1)} MiB)`);
    // readable by apt's unprivileged _apt user too, or apt warns that it could not sandbox the read
    await must(conn, ['sh', '-c', 'chmod 0755 "$1" && cat >"$2" && chmod 0644 "$2"', 'sh', dir, file], 'sending the package', {
      signal: req.signal,
      timeoutMs: INSTALL_TIMEOUT_MS,
      input: bytes,
    });
    const apt = [
      'env',
      'DEBIAN_FRONTEND=noninteractive',
      'apt-get',
      'install',
      '-y',
      '-q',
      '--no-install-recommends',
      '-o',
      'Dpkg::Options::=--force-confdef',
      '-o',
      'Dpkg::Options::=--force-confold',
      file,
    ];
    await must(conn, asRoot(state, apt), 'apt-get install', { signal: req.signal, timeoutMs: INSTALL_TIMEOUT_MS });
  } finally {
    await conn.exec(['rm', '-rf', '--', dir], { timeoutMs: STEP_TIMEOUT_MS }).catch(() => undefined);
  }
}

/** Checks sshd's settings and has it re-read them (a new or changed sshd_config.d snippet). */
async function reloadSshd(conn: SshConnection, state: HostState, signal: AbortSignal): Promise<void> {
  await must(conn, asRoot(state, ['sshd', '-t']), 'checking the sshd settings (sshd -t)', { signal });
  await must(conn, asRoot(state, ['sh', '-c', 'systemctl reload ssh.service 2>/dev/null || systemctl reload sshd.service']), 'reloading sshd', { signal });
}

/** Probes, decides and makes the changes the host needs. Throws FAILED_PRECONDITION (exit 3) for a refusal, before any change. */
export async function runSetup(req: SetupRequest): Promise<SetupOutcome> {
  const conn = await req.engine.connect(req.host, { signal: req.signal });
  try {
    const state = await probeHost(conn, req.pkg.version, req.signal);
    req.debug(`${req.host}: ${JSON.stringify(state)}`);
    const busy = state.order === 'older' && state.active ? await heldOperations(req) : [];
    const plan = planSetup(req.host, state, req.pkg, { account: req.account?.name }, busy);
    if (plan.refusal !== undefined) throw failedPrecondition(plan.refusal);
    if (req.dryRun) {
      for (const step of plan.steps) req.say(`  would ${stepWords(step, req.pkg).plan}`);
      return { steps: plan.steps, changed: [] };
    }
    const changed: string[] = [];
    let sshdChanged = false;
    for (const step of plan.steps) {
      switch (step.kind) {
        case 'install':
        case 'upgrade':
          await installPackage(conn, state, req);
          sshdChanged = true; // the package carries an sshd_config.d snippet
          break;
        case 'enable':
        case 'start':
        case 'restart':
          await must(conn, asRoot(state, ['systemctl', step.kind, AGENT_UNIT]), `systemctl ${step.kind} ${AGENT_UNIT}`, { signal: req.signal });
          break;
        case 'account': {
          const out = await must(conn, asRoot(state, ['sh', '-c', ACCOUNT_SCRIPT, 'sh', step.name, req.account?.key ?? '']), `setting up the SSH account ${step.name}`, {
            signal: req.signal,
          });
          const lines = out.split('\n');
          if (lines.includes('sshd=reload')) sshdChanged = true;
          const made = lines.filter((l) => l.startsWith('changed: ')).map((l) => l.slice('changed: '.length));
          for (const m of made) req.say(`  ${m}`);
          if (made.length === 0) req.say(`  SSH account ${step.name}: already set up, key authorized`);
          changed.push(...made);
          continue;
        }
      }
      const { done } = stepWords(step, req.pkg);
      req.say(`  ${done}`);
      changed.push(done);
    }
    if (sshdChanged) {
      await reloadSshd(conn, state, req.signal);
      req.say('  sshd: settings checked (sshd -t) and reloaded');
    }
    return { steps: plan.steps, changed };
  } finally {
    await conn.close();
  }
}
