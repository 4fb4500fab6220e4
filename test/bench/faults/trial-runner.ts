/**
 * One trial: prepare the operation, start kvmctl, inject the fault at the
 * trial's moment (a seeded fraction of the operation's calibrated wall
 * time), remove the fault once the run ends, check the invariants, rerun the
 * command when the first run did not finish the job, and check again.
 */
import { startKvmctl, type KvmctlRun } from '../../support/kvmctl.js';
import type { ArmedFault, Fault, FaultName } from './fault-catalog.js';
import {
  destinationState,
  heldLeftovers,
  settledLeftovers,
  sourceChanges,
  sourceJobs,
  sourceState,
  type DestinationCheck,
  type DestinationState,
  type SourceState,
} from './invariants.js';
import { digests, DST } from './fault-hosts.js';
import type { FaultOperation, OpName } from './operations.js';
import { Rng, trialSeed } from './prng.js';

/** The raw record of one trial (bench-results/faults-*.json). */
export interface TrialRecord {
  op: OpName;
  fault: FaultName;
  index: number;
  /** The trial's own seed, derived from the run's seed: `--only op:fault:index --seed S` replays it. */
  trialSeed: number;
  /** The fault's moment: the fraction of the calibrated wall time, and in milliseconds after kvmctl started. */
  fraction: number;
  momentMs: number;
  /** Whether the fault landed before the run ended, and kvmctl's last phase (and disk in progress) then. */
  injected: boolean;
  phaseAtInjection: string;
  faultDetail: string;
  injectError: string;
  first: { code: number; errorCode: string; message: string; seconds: number; retries: number };
  /** What the first run left on the destination, once its agents settled. */
  destinationAfterFirst: DestinationState;
  survived: boolean;
  rerun: { code: number; errorCode: string; message: string; seconds: number } | null;
  converged: boolean;
  /** The whole trial's wall time: preparing, both runs and every check. */
  trialSeconds: number;
  /** Lost or half-made: a changed source, a half-made destination, a held lock. Must be empty. */
  violations: string[];
  /** Failures to converge, and what else is worth knowing (e.g. leftovers gc will remove). */
  notes: string[];
}

/** What a run of the trial needs besides the operation and fault. */
export interface TrialSetup {
  seed: number;
  index: number;
  calibrationMs: number;
  stateDir: string;
  log: (line: string) => void;
  /** Inject when the run enters this phase (a replay of a moment a slower machine hit), not at the seeded moment. */
  atPhase?: string | undefined;
}

/** How one kvmctl run ended: exit code, error, wall seconds since `started`, retries. */
interface RunSummary {
  code: number;
  errorCode: string;
  message: string;
  seconds: number;
  retries: number;
}

function summary(run: KvmctlRun, started: number): RunSummary {
  const error = (run.result?.error ?? {}) as { code?: string; message?: string };
  return {
    code: run.code,
    errorCode: error.code ?? (run.code === 0 ? '' : run.result ? '' : 'no result line'),
    message: (error.message ?? '').slice(0, 300),
    seconds: Math.round((Date.now() - started) / 100) / 10,
    retries: run.events.filter((e) => e.type === 'retry').length,
  };
}

/** A run that takes this much longer than the calibration is hung: killed, and a violation. */
function hangLimitMs(calibrationMs: number): number {
  return Math.max(240_000, 10 * calibrationMs);
}

/** The violation of a run (`which`: the run, the rerun) killed as hung. */
function hangViolation(which: string, calibrationMs: number): string {
  return `${which} hung: killed after ${hangLimitMs(calibrationMs) / 1000} s`;
}

/** Runs kvmctl to the end, killing it if it hangs. */
async function runToEnd(op: FaultOperation, stateDir: string, limitMs: number): Promise<{ run: KvmctlRun; hung: boolean; started: number }> {
  const started = Date.now();
  const proc = startKvmctl(['--json', ...op.args], { stateDir });
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    proc.child.kill('SIGKILL');
  }, limitMs);
  const run = await proc.done;
  clearTimeout(timer);
  return { run, hung, started };
}

/** What a trial draws and reads before kvmctl starts: its seed, the source's state, the fault's moment and the armed fault. */
interface TrialStart {
  seed: number;
  src: SourceState;
  /** The destination's digests before a sync (undefined for other operations). */
  previous: Record<string, string> | undefined;
  fraction: number;
  momentMs: number;
  armed: ArmedFault;
}

/** What a trial found: violations (lost or half-made) and notes. */
interface Findings {
  violations: string[];
  notes: string[];
}

/** How the first run (with the fault) went. */
interface FirstRun {
  first: RunSummary;
  injected: boolean;
  phaseAtInjection: string;
  injectError: string;
}

/** Prepares the operation, reads the source (and a sync's destination), draws the moment and arms the fault. */
async function startTrial(op: FaultOperation, fault: Fault, setup: TrialSetup): Promise<TrialStart> {
  const seed = trialSeed(setup.seed, op.name, fault.name, setup.index);
  const rng = new Rng(seed);
  await op.prepare(rng);
  // The two hosts are read at once: checks are most of a trial's time.
  const [src, previous] = await Promise.all([sourceState(op), op.kind === 'sync' ? digests(DST, op.images, op.contentDigest) : undefined]);
  const fraction = rng.uniform(0, 0.95);
  const momentMs = Math.round(fraction * setup.calibrationMs);
  const armed = fault.arm(rng, op);
  return { seed, src, previous, fraction, momentMs, armed };
}

/** Runs kvmctl, injects the fault at the trial's moment (or phase), and removes it once the run ends. */
async function runWithFault(op: FaultOperation, setup: TrialSetup, trial: TrialStart, findings: Findings): Promise<FirstRun> {
  const { armed, momentMs } = trial;
  const started = Date.now();
  const proc = startKvmctl(['--json', ...op.args], { stateDir: setup.stateDir });
  let phase = 'START';
  let item = '';
  let injected = false;
  let phaseAtInjection = '';
  let injectError = '';
  let injecting: Promise<void> = Promise.resolve();
  let exited = false;
  const inject = (): void => {
    if (injected || exited || proc.child.exitCode !== null) return;
    injected = true;
    phaseAtInjection = item && phase === 'TRANSFER' ? `${phase} ${item}` : phase;
    injecting = armed.inject(proc).catch((err: unknown) => {
      injectError = err instanceof Error ? err.message.slice(0, 300) : String(err);
    });
  };
  proc.onEvent((e) => {
    if (e.type === 'phase') phase = String(e.phase);
    if (e.type === 'progress') item = String(e.item);
    if (e.type === 'phase' && phase === setup.atPhase) inject();
  });
  const timer = setup.atPhase === undefined ? setTimeout(inject, momentMs) : undefined;
  let hung = false;
  const hang = setTimeout(() => {
    hung = true;
    proc.child.kill('SIGKILL');
  }, hangLimitMs(setup.calibrationMs));
  const firstRun = await proc.done;
  exited = true;
  clearTimeout(timer);
  clearTimeout(hang);
  if (hung) findings.violations.push(hangViolation('the run', setup.calibrationMs));
  const first = summary(firstRun, started);
  await injecting;
  await armed.remove();
  if (injectError) findings.notes.push(`injecting failed: ${injectError}`);
  return { first, injected, phaseAtInjection, injectError };
}

/** The first run's aftermath, once its agents let go of what it held: leftovers, the source's changes, the destination. */
async function checkFirstRun(op: FaultOperation, setup: TrialSetup, trial: TrialStart, findings: Findings): Promise<DestinationCheck> {
  const { violations } = findings;
  const settle = await settledLeftovers(setup.stateDir);
  if (!settle.settled)
    violations.push(
      `30 s after the run: ${heldLeftovers(settle.leftovers, true)
        .filter((l) => l.includes('(running)'))
        .join('; ')}`,
    );
  violations.push(
    ...heldLeftovers(settle.leftovers, false)
      .filter((l) => !l.includes('(running)'))
      .map((l) => `after the first run: ${l}`),
  );
  const [changes, dest] = await Promise.all([sourceChanges(op, trial.src), destinationState(op, trial.src, trial.previous)]);
  violations.push(...changes, ...dest.violations);
  return dest;
}

/** Runs the command again to the end (the first run did not finish the job); resolves with its record and whether it converged. */
async function rerunToEnd(op: FaultOperation, setup: TrialSetup, trial: TrialStart, findings: Findings): Promise<{ rerun: NonNullable<TrialRecord['rerun']>; converged: boolean }> {
  const { violations, notes } = findings;
  const again = await runToEnd(op, setup.stateDir, hangLimitMs(setup.calibrationMs));
  const s = summary(again.run, again.started);
  const rerun = { code: s.code, errorCode: s.errorCode, message: s.message, seconds: s.seconds };
  if (again.hung) violations.push(hangViolation('the rerun', setup.calibrationMs));
  const [after, changedAfter] = await Promise.all([destinationState(op, trial.src, trial.previous), sourceChanges(op, trial.src)]);
  const converged = s.code === 0 && after.state === 'complete';
  if (!converged) notes.push(`rerun: exit ${s.code} ${s.errorCode} ${s.message}; destination ${after.state}${after.workFiles.length ? ` (${after.workFiles.join(', ')})` : ''}`);
  violations.push(...after.violations.map((v) => `after the rerun: ${v}`));
  violations.push(...changedAfter.map((v) => `after the rerun: ${v}`));
  setup.log(`  rerun: exit ${s.code}${s.errorCode ? ` ${s.errorCode}` : ''} after ${s.seconds} s; destination ${after.state}`);
  return { rerun, converged };
}

/** Whatever the path, nothing may be left behind once the job is done: false when something was (noted). */
async function nothingLeftBehind(op: FaultOperation, setup: TrialSetup, notes: string[]): Promise<boolean> {
  let clean = true;
  const end = await settledLeftovers(setup.stateDir);
  // After the agents settled: a view's job ends as its call does, a moment after kvmctl exits.
  const jobs = await sourceJobs(op);
  const left = heldLeftovers(end.leftovers, true);
  if (left.length > 0) {
    clean = false;
    notes.push(`left behind: ${left.join('; ')}`);
  }
  const peers = Object.values(end.leftovers)
    .flat()
    .filter((l) => l.kind === 'peer-socket').length;
  if (peers > 0) notes.push(`${peers} peer socket(s) of ended runs (kvmctl gc removes them)`);
  if (jobs.length > 0) {
    clean = false;
    notes.push(...jobs);
  }
  return clean;
}

/** Runs trial `setup.index` of `fault` against `op`. */
export async function runTrial(op: FaultOperation, fault: Fault, setup: TrialSetup): Promise<TrialRecord> {
  const trialStarted = Date.now();
  const trial = await startTrial(op, fault, setup);
  const findings: Findings = { violations: [], notes: [] };
  const { first, injected, phaseAtInjection, injectError } = await runWithFault(op, setup, trial, findings);
  const dest = await checkFirstRun(op, setup, trial, findings);
  const survived = first.code === 0 && dest.state === 'complete';
  if (first.code === 0 && dest.state !== 'complete') findings.violations.push(`kvmctl said done but the destination is ${dest.state}`);
  setup.log(
    `  first run: exit ${first.code}${first.errorCode ? ` ${first.errorCode}` : ''} after ${first.seconds} s (${first.retries} retries); fault ${injected ? `at ${trial.momentMs} ms in ${phaseAtInjection}` : 'not injected: the run had ended'}; destination ${dest.state}`,
  );
  const again = survived ? null : await rerunToEnd(op, setup, trial, findings);
  const clean = await nothingLeftBehind(op, setup, findings.notes);
  return {
    op: op.name,
    fault: fault.name,
    index: setup.index,
    trialSeed: trial.seed,
    fraction: Math.round(trial.fraction * 1e4) / 1e4,
    momentMs: trial.momentMs,
    injected,
    phaseAtInjection,
    faultDetail: trial.armed.detail,
    injectError,
    first,
    destinationAfterFirst: dest.state,
    survived,
    rerun: again ? again.rerun : null,
    converged: (again ? again.converged : survived) && clean,
    trialSeconds: Math.round((Date.now() - trialStarted) / 1000),
    violations: findings.violations,
    notes: findings.notes,
  };
}

/** The wall time of one fault-free run of `op` (its calibration); throws if it fails. */
export async function calibrate(op: FaultOperation, seed: number, stateDir: string): Promise<number> {
  await op.prepare(new Rng(trialSeed(seed, op.name, 'calibration', 0)));
  const { run, started } = await runToEnd(op, stateDir, 600_000);
  const ms = Date.now() - started;
  if (run.code !== 0) throw new Error(`calibration run of ${op.name} failed (exit ${run.code}): ${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`);
  return ms;
}
