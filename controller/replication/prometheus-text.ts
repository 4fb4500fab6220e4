/**
 * `kvmctl status --prometheus FILE`: the replicas' figures in the
 * node_exporter textfile-collector format, so an existing Prometheus can
 * alert on lag without kvmclone running a server. The file is replaced
 * atomically (written beside it under a name the collector ignores, then
 * renamed), so the collector never reads half a file.
 */
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ReplicaStatus } from './replica-status.js';

interface Metric {
  name: string;
  help: string;
  value: (s: ReplicaStatus) => number | undefined;
}

const STATES = ['ok', 'late', 'failing', 'paused', 'failed-over'] as const;

const METRICS: readonly Metric[] = [
  { name: 'kvmclone_replica_lag_seconds', help: 'Age of the data on the destination: now minus the start of the last successful run.', value: (s) => s.lagSeconds },
  { name: 'kvmclone_replica_rpo_seconds', help: "The replica's interval (its recovery point objective).", value: (s) => s.rpoSeconds },
  { name: 'kvmclone_replica_last_duration_seconds', help: 'Duration of the last successful run.', value: (s) => s.lastSync?.seconds },
  { name: 'kvmclone_replica_last_bytes', help: 'Bytes on the wire of the last successful run.', value: (s) => s.lastSync?.bytesOnWire },
  {
    name: 'kvmclone_replica_last_success_timestamp_seconds',
    help: 'Start of the last successful run (Unix time).',
    value: (s) => (s.lastSync ? Date.parse(s.lastSync.at) / 1000 : undefined),
  },
  { name: 'kvmclone_replica_consecutive_failures', help: 'Failed runs since the last success.', value: (s) => s.consecutiveFailures },
  { name: 'kvmclone_replica_within_rpo', help: '1 when the lag is within the RPO plus grace, else 0.', value: (s) => (s.withinRpo ? 1 : 0) },
];

/** A label value escaped as the exposition format wants (backslash, double quote, newline). */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The exposition text for `statuses` (a metric without a value for a replica, e.g. no sync yet, has no sample). */
export function prometheusText(statuses: readonly ReplicaStatus[]): string {
  const lines: string[] = [];
  const labels = (s: ReplicaStatus): string => `replica="${escapeLabel(s.replica)}",vm="${escapeLabel(s.vm)}",to="${escapeLabel(s.to)}"`;
  for (const metric of METRICS) {
    lines.push(`# HELP ${metric.name} ${metric.help}`, `# TYPE ${metric.name} gauge`);
    for (const s of statuses) {
      const v = metric.value(s);
      if (v !== undefined) lines.push(`${metric.name}{${labels(s)}} ${v}`);
    }
  }
  lines.push('# HELP kvmclone_replica_state 1 for the state the replica is in.', '# TYPE kvmclone_replica_state gauge');
  for (const s of statuses) for (const state of STATES) lines.push(`kvmclone_replica_state{${labels(s)},state="${state}"} ${s.state === state ? 1 : 0}`);
  return `${lines.join('\n')}\n`;
}

/** Replaces `file` with `text` atomically: a hidden temporary file in the same directory, fsynced, then renamed over it. */
export async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    const handle = await open(temp, 'w', 0o644);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
