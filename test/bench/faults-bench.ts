/**
 * `scripts/bench faults`: the seeded fault matrix (issue 11). For each
 * operation (clone, sync, live sync) and fault, N trials inject the fault at
 * a seeded moment of a real run on the testbed, then check from outside
 * kvmctl that nothing was lost or half-made and that rerunning converges.
 * Prints the table with the seed; raw per-trial records go to
 * bench-results/faults-<date>.json. Exit 1 when a trial lost or half-made
 * anything or did not converge; 2 on bad usage.
 *
 *   node dist/test/bench/faults-bench.js [--trials N] [--seed S] [--ops clone,sync,live] [--faults a,b] [--only op:fault:i] [--at PHASE]
 *
 * --at PHASE injects each fault as the run enters PHASE (e.g. COMMIT) instead
 * of at the seeded moment: a replay of a moment that a slower machine hit.
 */
import { randomInt } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { lockTestbed } from '../support/testbed.js';
import { FAULT_NAMES, type FaultName } from './faults/fault-catalog.js';
import { runMatrix } from './faults/matrix.js';
import { OP_NAMES, type OpName } from './faults/operations.js';
import { formatTable, matrixPassed } from './faults/table.js';

const USAGE = `usage: scripts/bench faults [--trials N] [--seed S] [--ops ${OP_NAMES.join(',')}] [--faults ${FAULT_NAMES.join(',')}] [--only op:fault:i] [--at PHASE]`;

function usage(problem: string): never {
  console.error(`${problem}\n${USAGE}`);
  process.exit(2);
}

function listOf<T extends string>(value: string | undefined, all: readonly T[], what: string): T[] {
  if (value === undefined) return [...all];
  const items = value.split(',').filter(Boolean);
  for (const i of items) if (!(all as readonly string[]).includes(i)) usage(`unknown ${what} '${i}'`);
  return items as T[];
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      trials: { type: 'string', default: '5' },
      seed: { type: 'string' },
      ops: { type: 'string' },
      faults: { type: 'string' },
      only: { type: 'string' },
      at: { type: 'string' },
    },
  }));
} catch (err) {
  usage(err instanceof Error ? err.message : String(err));
}
const trials = Number(values.trials);
const seed = values.seed !== undefined ? Number(values.seed) : randomInt(2 ** 31);
if (!Number.isSafeInteger(trials) || trials < 1) usage('--trials must be a positive integer');
if (!Number.isSafeInteger(seed) || seed < 0) usage('--seed must be a non-negative integer');
const ops = listOf<OpName>(values.ops, OP_NAMES, 'operation');
const faults = listOf<FaultName>(values.faults, FAULT_NAMES, 'fault');
let only: { op: OpName; fault: FaultName; index: number } | undefined;
if (values.only !== undefined) {
  const [op, fault, index] = values.only.split(':');
  if (!(OP_NAMES as readonly string[]).includes(op ?? '') || !(FAULT_NAMES as readonly string[]).includes(fault ?? '') || !/^\d+$/.test(index ?? ''))
    usage(`--only wants op:fault:index, got '${values.only}'`);
  only = { op: op as OpName, fault: fault as FaultName, index: Number(index) };
}

const PHASES = ['PREFLIGHT', 'PLAN', 'TRANSFER', 'VERIFY', 'DEFINE', 'COMMIT', 'APPLY', 'START'] as const;
if (values.at !== undefined && !(PHASES as readonly string[]).includes(values.at)) usage(`--at wants one of ${PHASES.join(', ')}, got '${values.at}'`);

console.log('waiting for the testbed lock (/tmp/kvmclone-testbed.lock)');
await lockTestbed();
console.log(
  `faults: seed ${seed}, ${only ? `only ${values.only}` : `${trials} trial(s) of ${faults.join(', ')} for ${ops.join(', ')}`}${values.at ? `, injected as each run enters ${values.at}` : ''}`,
);
const controller = new AbortController();
process.once('SIGINT', () => controller.abort(new Error('interrupted')));
const result = await runMatrix({ seed, trials, ops, faults, only, atPhase: values.at, log: (line) => console.log(line), signal: controller.signal });
console.log(`\n${formatTable(result)}`);
await mkdir('bench-results', { recursive: true });
const out = join('bench-results', `faults-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
await writeFile(out, JSON.stringify(result, null, 2));
console.log(`records: ${out}`);
process.exit(matrixPassed(result) ? 0 : 1);
