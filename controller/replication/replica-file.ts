/**
 * `kvmctl replica apply FILE.yaml`: a file listing replicas, validated
 * strictly like kvmctl.yaml (unknown keys, bad names, hosts, paths and
 * intervals are all named at once), and the plan that makes the database
 * match it: replicas to add, settings to change (interval, restore points
 * kept, live), and — with --prune — replicas to remove. What a replica is
 * (VM, hosts, copy name, target directory) cannot change in place: the copy
 * is where its first run put it, so such a change is refused with the way
 * out (remove the replica, then apply).
 *
 * ```yaml
 * replicas:
 *   - name: web1
 *     vm: web1
 *     from: hosta
 *     to: hostb
 *     every: 15m
 *     keep: 3        # optional
 *     live: true     # optional
 *     dest_name: web1-dr     # optional, default the VM's name
 *     target_dir: /srv/dr    # optional
 * ```
 */
import { z } from 'zod';
import { parseConfig, readYamlFile } from '../../shared/config/config-file.js';
import { absolutePathField } from '../../shared/config/config-fields.js';
import { checkVmName } from '../../shared/validation.js';
import { failedPrecondition } from '../../shared/errors.js';
import type { Replica, ReplicaSpec, ReplicaStore } from './replica-store.js';
import { checkHost, parseKeep, replicaSpec, type ReplicaInput } from './replica-spec.js';
import { formatSeconds, parseEvery } from './schedule.js';

/** A field checked by a function that throws INVALID_ARGUMENT "field: why"; the issue keeps the why (the path names the field). */
function checkedBy<T>(check: (value: T) => unknown) {
  return (value: T, ctx: z.RefinementCtx): void => {
    try {
      check(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err instanceof Error ? err.message : String(err)).replace(/^[a-z_-]+: /, '') });
    }
  };
}

const vmName = z.string().superRefine(checkedBy((v: string) => checkVmName(v, 'name')));
const host = z.string().superRefine(checkedBy((v: string) => checkHost(v, 'host')));

const entrySchema = z.strictObject({
  name: vmName,
  vm: vmName,
  from: host,
  to: host,
  dest_name: vmName.optional(),
  target_dir: absolutePathField.optional(),
  every: z.union([z.string(), z.number()]).superRefine(checkedBy((v: string | number) => parseEvery(v, 'every'))),
  keep: z
    .number()
    .superRefine(checkedBy((v: number) => parseKeep(v, 'keep')))
    .optional(),
  live: z.boolean().optional(),
});

type Entry = z.output<typeof entrySchema>;

const inputOf = (e: Entry): ReplicaInput => ({
  name: e.name,
  vm: e.vm,
  from: e.from,
  to: e.to,
  destName: e.dest_name,
  targetDir: e.target_dir,
  every: e.every,
  keep: e.keep,
  live: e.live,
});

/** The file's schema: `replicas:` a list of entries; names and copies unique. */
export const replicaFileSchema = z
  .strictObject({ replicas: z.array(entrySchema) })
  .superRefine((file, ctx) => {
    file.replicas.forEach((entry, i) => {
      const copy = entry.dest_name ?? entry.vm;
      if (entry.from === entry.to && copy === entry.vm)
        ctx.addIssue({ code: 'custom', message: "a replica on its source's host needs another name for the copy", path: ['replicas', i, 'dest_name'] });
      const sameName = file.replicas.findIndex((e) => e.name === entry.name);
      if (sameName !== i) ctx.addIssue({ code: 'custom', message: `${entry.name} is listed twice (also replicas.${sameName})`, path: ['replicas', i, 'name'] });
      const sameCopy = file.replicas.findIndex((e) => e.to === entry.to && (e.dest_name ?? e.vm) === copy);
      if (sameCopy !== i) ctx.addIssue({ code: 'custom', message: `writes the same copy as replicas.${sameCopy} (${copy} on ${entry.to})`, path: ['replicas', i, 'to'] });
    });
  })
  .transform((file) => file.replicas.map((e) => replicaSpec(inputOf(e))));

/** Reads and validates a replica file (ConfigError, exit 2, naming every problem). */
export async function readReplicaFile(path: string): Promise<ReplicaSpec[]> {
  return parseConfig(replicaFileSchema, await readYamlFile(path, true), path);
}

/** One field that differs. */
export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

/** What apply does (or would do). */
export interface ApplyPlan {
  add: ReplicaSpec[];
  change: { name: string; fields: FieldChange[] }[];
  /** With --prune: replicas not in the file. */
  remove: string[];
  /** Without --prune: replicas not in the file, left alone. */
  unlisted: string[];
  unchanged: string[];
  /** Changes that cannot be made in place, each with its reason. */
  refused: { name: string; reason: string }[];
}

const IDENTITY: readonly [keyof ReplicaSpec, string][] = [
  ['vm', 'vm'],
  ['from', 'from'],
  ['to', 'to'],
  ['destVm', 'dest_name'],
  ['targetDir', 'target_dir'],
];
const SETTINGS: readonly [keyof ReplicaSpec, string][] = [
  ['everySeconds', 'every'],
  ['keep', 'keep'],
  ['live', 'live'],
];

/** Compares the database with the file. */
export function planApply(current: readonly Replica[], desired: readonly ReplicaSpec[], prune: boolean): ApplyPlan {
  const plan: ApplyPlan = { add: [], change: [], remove: [], unlisted: [], unchanged: [], refused: [] };
  const wanted = new Set(desired.map((d) => d.name));
  for (const r of current) if (!wanted.has(r.name)) (prune ? plan.remove : plan.unlisted).push(r.name);
  const staying = current.filter((r) => wanted.has(r.name) || !prune);
  for (const spec of desired) {
    const existing = current.find((r) => r.name === spec.name);
    if (!existing) {
      const holder = staying.find((r) => r.to === spec.to && r.destVm === spec.destVm);
      if (holder) plan.refused.push({ name: spec.name, reason: `replica ${holder.name} already keeps ${spec.destVm} on ${spec.to}` });
      else plan.add.push(spec);
      continue;
    }
    const identity = IDENTITY.filter(([k]) => existing[k] !== spec[k]);
    if (identity.length > 0) {
      plan.refused.push({
        name: spec.name,
        reason: `${identity.map(([k, key]) => `${key} ${String(existing[k])} -> ${String(spec[k])}`).join(', ')}: a replica's copy stays where its first run put it; remove the replica (kvmctl replica rm ${spec.name} [--delete-copy]) and apply again`,
      });
      continue;
    }
    const fields = SETTINGS.filter(([k]) => existing[k] !== spec[k]).map(([k, key]) => ({ field: key, from: existing[k], to: spec[k] }));
    if (fields.length > 0) plan.change.push({ name: spec.name, fields });
    else plan.unchanged.push(spec.name);
  }
  return plan;
}

/** Carries out `plan` in one transaction (nothing when a replica to remove is being run); refusals must be empty. */
export function applyPlan(store: ReplicaStore, desired: readonly ReplicaSpec[], plan: ApplyPlan): void {
  if (plan.refused.length > 0) throw new Error('internal: a plan with refusals is not applied');
  for (const name of plan.remove) {
    const busy = store.busyWith(name);
    if (busy) throw failedPrecondition(`replica ${name} is being run by kvmctl pid ${busy.pid}: apply --prune again when that run is over`);
  }
  store.transaction(() => {
    for (const name of plan.remove) store.remove(name);
    for (const c of plan.change) {
      const spec = desired.find((d) => d.name === c.name);
      if (spec) store.update(c.name, spec);
    }
    for (const spec of plan.add) store.add(spec);
  });
}

const show = (v: unknown): string => (v === null || v === undefined ? '-' : typeof v === 'string' ? v : JSON.stringify(v));

/** The plan as lines: + add, ~ change, - remove, ! refused. */
export function planText(plan: ApplyPlan, desired: readonly ReplicaSpec[]): string {
  const lines = [
    ...plan.add.map(
      (s) =>
        `+ add ${s.name}: ${s.vm}@${s.from} -> ${s.destVm}@${s.to} every ${formatSeconds(s.everySeconds)}${s.live ? ', live' : ''}${s.keep !== null ? `, keep ${s.keep}` : ''}`,
    ),
    ...plan.change.map(
      (c) =>
        `~ change ${c.name}: ${c.fields.map((f) => (f.field === 'every' ? `every ${formatSeconds(Number(f.from))} -> ${formatSeconds(Number(f.to))}` : `${f.field} ${show(f.from)} -> ${show(f.to)}`)).join(', ')}`,
    ),
    ...plan.remove.map((n) => `- remove ${n} (its copy is kept)`),
    ...plan.unlisted.map((n) => `  keep ${n}: not in the file (--prune removes it)`),
    ...plan.refused.map((r) => `! ${r.name}: ${r.reason}`),
  ];
  if (lines.length === 0 || plan.add.length + plan.change.length + plan.remove.length + plan.refused.length === 0)
    lines.push(`nothing to change (${desired.length} replica(s) as in the file)`);
  return `${lines.join('\n')}\n`;
}
