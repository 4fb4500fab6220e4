/**
 * A replica as the user writes it — on the command line (`replica add`) or
 * in a file (`replica apply`) — checked the same way in both: names as VM
 * names, hosts as kvmctl's HOST arguments, the target directory as an
 * absolute path, the interval within 10 s … 7 d, and no copy onto its own
 * source. Each check throws INVALID_ARGUMENT naming the field.
 */
import { invalidArgument } from '../../shared/errors.js';
import { checkAbsolutePath, checkVmName } from '../../shared/validation.js';
import { parseHostSpec } from '../transport/host-spec.js';
import type { ReplicaSpec } from './replica-store.js';
import { parseEvery } from './schedule.js';

/** The most restore points a replica may keep: the agent keeps at most 64 per image (kvmctl sync --keep). */
export const MAX_KEEP = 64;

/** The fields as given (flag or file spellings already mapped). */
export interface ReplicaInput {
  name: string;
  vm: string;
  from: string;
  to: string;
  destName?: string | undefined;
  targetDir?: string | undefined;
  every: string | number;
  keep?: number | string | undefined;
  live?: boolean | undefined;
}

/** Checks a HOST argument; returns it. */
export function checkHost(text: string, field: string): string {
  try {
    parseHostSpec(text);
  } catch (err) {
    throw invalidArgument(`${field}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return text;
}

/** Parses --keep: a whole number from 1 to MAX_KEEP. */
export function parseKeep(value: number | string, field = '--keep'): number {
  const n = typeof value === 'number' ? value : /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_KEEP) throw invalidArgument(`${field}: ${JSON.stringify(value)} is not a whole number from 1 to ${MAX_KEEP}`);
  return n;
}

/** Checks every field and returns the spec to store; `fields` names the fields in messages. */
export function replicaSpec(input: ReplicaInput, fields: { [K in keyof ReplicaInput]-?: string } = FLAG_NAMES): ReplicaSpec {
  const name = checkVmName(input.name, fields.name);
  const vm = checkVmName(input.vm, fields.vm);
  const from = checkHost(input.from, fields.from);
  const to = checkHost(input.to, fields.to);
  const destVm = checkVmName(input.destName ?? vm, fields.destName);
  if (from === to && destVm === vm) throw invalidArgument(`${fields.destName}: a replica on its source's host needs another name for the copy`);
  return {
    name,
    vm,
    from,
    to,
    destVm,
    targetDir: input.targetDir === undefined ? null : checkAbsolutePath(input.targetDir, fields.targetDir),
    everySeconds: parseEvery(input.every, fields.every),
    keep: input.keep === undefined ? null : parseKeep(input.keep, fields.keep),
    live: input.live === true,
  };
}

/** Field names as `replica add` spells them. */
export const FLAG_NAMES = {
  name: 'NAME',
  vm: '--vm',
  from: '--from',
  to: '--to',
  destName: '--dest-name',
  targetDir: '--target-dir',
  every: '--every',
  keep: '--keep',
  live: '--live',
} as const;
