/**
 * The fault matrix: every selected operation × fault × trial index on two
 * fresh testbed hosts, each operation calibrated by one fault-free run first.
 * Shared by `scripts/bench faults` (the full matrix) and the fast subset in
 * test/e2e/faults.test.ts, so both check the same way.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostAgent, testbedScript } from '../../support/testbed.js';
import { FAULTS, type FaultName } from './fault-catalog.js';
import { DST, faultHostsDown, faultHostsUp, SRC } from './fault-hosts.js';
import { OPERATIONS, type OpName } from './operations.js';
import { calibrate, runTrial, type TrialRecord } from './trial-runner.js';

/** What to run. */
export interface MatrixOptions {
  seed: number;
  trials: number;
  ops: readonly OpName[];
  faults: readonly FaultName[];
  /** Just this trial (a replay). */
  only?: { op: OpName; fault: FaultName; index: number };
  /** Inject when the run enters this phase instead of at the seeded moment. */
  atPhase?: string | undefined;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** A fault that could not run, and why. */
export interface SkippedFault {
  fault: FaultName;
  reason: string;
}

/** Everything the matrix found. */
export interface MatrixResult {
  seed: number;
  trials: number;
  startedAt: string;
  seconds: number;
  calibrationMs: Partial<Record<OpName, number>>;
  skipped: SkippedFault[];
  records: TrialRecord[];
}

/** Brings the agents and libvirtds back after a trial that failed in the harness itself. */
async function heal(): Promise<void> {
  for (const host of [SRC, DST]) {
    await hostAgent(host, 'status').catch(() => hostAgent(host, 'start'));
    await testbedScript('host-libvirtd.sh', [host, 'status']).catch(() => testbedScript('host-libvirtd.sh', [host, 'restart']));
  }
}

/** Runs the matrix; the hosts are brought up first and torn down at the end. */
export async function runMatrix(opts: MatrixOptions): Promise<MatrixResult> {
  const started = Date.now();
  const ops = opts.only ? [opts.only.op] : opts.ops;
  const wanted = opts.only ? [opts.only.fault] : opts.faults;
  const skipped: SkippedFault[] = [];
  const faults = [];
  for (const name of wanted) {
    const reason = await FAULTS[name].unavailable();
    if (reason) skipped.push({ fault: name, reason });
    else faults.push(FAULTS[name]);
  }
  const result: MatrixResult = { seed: opts.seed, trials: opts.trials, startedAt: new Date(started).toISOString(), seconds: 0, calibrationMs: {}, skipped, records: [] };
  const stateDir = await mkdtemp(join(tmpdir(), 'kvmclone-faults-'));
  try {
    opts.log(`bringing up ${SRC} and ${DST}`);
    await faultHostsUp(faults.some((f) => f.name === 'src-io-error') ? { IMAGES_EIO: '1' } : {});
    for (const opName of ops) {
      const op = OPERATIONS[opName];
      opts.log(`${opName}: setting up ${op.vm}`);
      await op.setup(stateDir);
      const calibrationMs = await calibrate(op, opts.seed, stateDir);
      result.calibrationMs[opName] = calibrationMs;
      opts.log(`${opName}: a fault-free run takes ${(calibrationMs / 1000).toFixed(1)} s`);
      for (const fault of faults) {
        const indexes = opts.only ? [opts.only.index] : [...Array(opts.trials).keys()];
        for (const index of indexes) {
          opts.signal?.throwIfAborted();
          opts.log(`${opName}:${fault.name}:${index}`);
          try {
            result.records.push(await runTrial(op, fault, { seed: opts.seed, index, calibrationMs, stateDir, log: opts.log, atPhase: opts.atPhase }));
          } catch (err) {
            const message = err instanceof Error ? err.message : String(err);
            opts.log(`  trial failed in the harness: ${message}`);
            result.records.push(harnessFailure(opName, fault.name, index, message));
            await heal().catch((e: unknown) => opts.log(`  healing the hosts failed: ${String(e)}`));
          }
          const last = result.records.at(-1);
          if (last && (last.violations.length > 0 || !last.converged)) opts.log(`  ${[...last.violations, ...last.notes].join('\n  ')}`);
        }
      }
    }
  } finally {
    await faultHostsDown().catch((err: unknown) => opts.log(`tearing the hosts down failed: ${String(err)}`));
    await rm(stateDir, { recursive: true, force: true });
    result.seconds = Math.round((Date.now() - started) / 1000);
  }
  return result;
}

/** A trial the harness could not finish: not converged, with the reason, so the matrix fails loudly. */
function harnessFailure(op: OpName, fault: FaultName, index: number, message: string): TrialRecord {
  return {
    op,
    fault,
    index,
    trialSeed: 0,
    fraction: 0,
    momentMs: 0,
    injected: false,
    phaseAtInjection: '',
    faultDetail: '',
    injectError: '',
    first: { code: -1, errorCode: '', message: '', seconds: 0, retries: 0 },
    destinationAfterFirst: 'nothing',
    survived: false,
    rerun: null,
    converged: false,
    trialSeconds: 0,
    violations: [],
    notes: [`harness error: ${message.slice(0, 1000)}`],
  };
}
