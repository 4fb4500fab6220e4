/**
 * `kvmctl ops [list | show ID]`: the operation history kept in SQLite under
 * $XDG_STATE_HOME/kvmclone — what ran, when, how it ended, and each step.
 */
import { formatPhases, phasesOf } from '../cli/phase-text.js';
import { Command, Option } from 'commander';
import { notFound } from '../../shared/errors.js';
import { openReadOnly, runInContext, type CommandContext } from '../cli/command-context.js';
import { EXIT_FAILED, EXIT_OK } from '../cli/exit-codes.js';
import { formatBytes } from '../cli/reporter.js';
import { fetchAudit } from '../audit/audit-query.js';
import { auditTable } from '../audit/audit-table.js';
import type { AuditEntry__Output } from '../../shared/generated/kvmclone/agent/v1/AuditEntry.js';

/** How far before an operation's start (by the controller's clock) its agents' records are looked for: room for clock skew. */
const AUDIT_SKEW_MS = 86_400_000;

/** The agent records of operation `id` on each host, or why they could not be read. */
async function agentRecords(
  ctx: CommandContext,
  hosts: readonly string[],
  id: string,
  startedAt: string,
): Promise<{ host: string; records?: AuditEntry__Output[]; error?: string }[]> {
  const since = new Date(Date.parse(startedAt) - AUDIT_SKEW_MS).toISOString();
  return Promise.all(
    hosts.map(async (host) => {
      try {
        const session = await openReadOnly(ctx, host, ['audit.read']);
        try {
          return { host, records: await fetchAudit(session, { since, vm: '', operationId: id, limit: 100_000 }, ctx.signal) };
        } finally {
          await session.close();
        }
      } catch (err) {
        return { host, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}

/** `kvmctl ops list`: recent operations, newest first. */
async function opsList(ctx: CommandContext): Promise<number> {
  const rows = ctx.store().list(100);
  if (ctx.json) {
    ctx.reporter.result({ ok: true, operation: 'ops-list', operations: rows });
    return EXIT_OK;
  }
  process.stdout.write(`${'ID'.padEnd(36)}  ${'KIND'.padEnd(5)}  ${'STATE'.padEnd(11)}  ${'STARTED'.padEnd(24)}  ${'ON WIRE'.padStart(10)}  WHAT\n`);
  for (const r of rows) {
    process.stdout.write(
      `${r.id}  ${r.kind.padEnd(5)}  ${r.state.padEnd(11)}  ${r.startedAt.padEnd(24)}  ${formatBytes(r.bytesOnWire).padStart(10)}  ${r.vm}@${r.sourceHost} -> ${r.destVm}@${r.destHost}${r.errorMessage ? `  (${r.errorMessage})` : ''}\n`,
    );
  }
  return EXIT_OK;
}

/** `kvmctl ops show ID [--agent-records]`: one operation and every step it took. */
async function opsShow(ctx: CommandContext, id: string, flags: { agentRecords?: boolean }): Promise<number> {
  const found = ctx.store().get(id);
  if (!found) throw notFound(`no operation ${id} in the history`);
  const o = found.operation;
  const phases = phasesOf(o.result);
  // The history is local and answers offline; the agents' records need both hosts reachable, so they are fetched on request.
  const hosts = [...new Set([o.sourceHost, o.destHost])];
  const auditCommands = hosts.map((h) => `kvmctl audit ${h} --op ${o.id}`);
  const fetched = flags.agentRecords === true ? await agentRecords(ctx, hosts, o.id, o.startedAt) : undefined;
  const failed = fetched?.some((f) => f.error !== undefined) === true;
  if (ctx.json) {
    ctx.reporter.result({
      ok: !failed,
      operation: 'ops-show',
      record: found.operation,
      events: found.events,
      auditCommands,
      ...(fetched && { agentRecords: Object.fromEntries(fetched.map((f) => [f.host, f.records ?? { error: f.error }])) }),
    });
    return failed ? EXIT_FAILED : EXIT_OK;
  }
  process.stdout.write(
    `${o.id}: ${o.kind} ${o.vm}@${o.sourceHost} -> ${o.destVm}@${o.destHost}\n  state ${o.state}, started ${o.startedAt}, finished ${o.finishedAt ?? '-'}, ${formatBytes(o.bytesOnWire)} on the wire\n` +
      (o.errorMessage ? `  error ${o.errorCode}: ${o.errorMessage}\n` : '') +
      (phases ? `  phases: ${formatPhases(phases)}\n` : '') +
      found.events.map((e) => `  ${e.at}  ${e.type}${Object.keys(e.data as object).length ? `  ${JSON.stringify(e.data)}` : ''}\n`).join(''),
  );
  if (fetched === undefined) {
    process.stdout.write(`what the agents recorded (or ops show --agent-records):\n${auditCommands.map((c) => `  ${c}\n`).join('')}`);
    return EXIT_OK;
  }
  for (const f of fetched) {
    process.stdout.write(`\nrecorded by the agent on ${f.host}:\n`);
    if (f.error !== undefined) process.stdout.write(`  could not read its audit trail: ${f.error}\n`);
    else process.stdout.write(f.records?.length ? auditTable(f.records) : '  no records of this operation\n');
  }
  return failed ? EXIT_FAILED : EXIT_OK;
}

/** The ops command group. */
export function opsCommand(run: (code: Promise<number>) => void): Command {
  const ops = new Command('ops').description('operation history');
  const list = (command: Command): void => runInContext(run, command, (ctx) => opsList(ctx));
  ops
    .command('list', { isDefault: true })
    .description('recent operations, newest first')
    .action((_f: unknown, command: Command) => list(command));
  ops
    .command('show')
    .description('one operation and every step it took, and how to see what its agents recorded')
    .argument('<id>', 'operation id (or a unique prefix)')
    .addOption(new Option('--agent-records', "also fetch the audit records of the operation from both hosts' agents (over SSH)"))
    .action((id: string, flags: { agentRecords?: boolean }, command: Command) => runInContext(run, command, (ctx) => opsShow(ctx, id, flags)));
  return ops;
}
