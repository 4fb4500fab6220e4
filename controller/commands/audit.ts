/**
 * `kvmctl audit HOST [--since DURATION|TIME] [--vm NAME] [--op ID] [--limit N]`:
 * the agent's audit trail of calls that changed something on HOST, read
 * through its read-only ReadAudit RPC — a table, or with --json the records.
 */
import { Option, type Command } from 'commander';
import { hostVerb } from '../cli/verb-builders.js';
import { checkId, checkVmName } from '../../shared/validation.js';
import { invalidArgument } from '../../shared/errors.js';
import { openReadOnly, runInContext } from '../cli/command-context.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { fetchAudit, parseSince, type AuditFilters } from '../audit/audit-query.js';
import { auditTable } from '../audit/audit-table.js';

/** Most records asked for when --limit is not given. */
const DEFAULT_LIMIT = 1000;

interface AuditFlags {
  since?: string;
  vm?: string;
  op?: string;
  limit?: string;
}

/** Checks the flags before any connection is made (INVALID_ARGUMENT, exit 2). */
export function auditFilters(flags: AuditFlags, now = new Date()): AuditFilters {
  const limit = flags.limit === undefined ? DEFAULT_LIMIT : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw invalidArgument(`--limit: ${JSON.stringify(flags.limit)} is not a number from 1 to 100000`);
  return {
    since: flags.since === undefined ? '' : parseSince(flags.since, now),
    vm: flags.vm === undefined ? '' : checkVmName(flags.vm, '--vm'),
    operationId: flags.op === undefined ? '' : checkId(flags.op, '--op'),
    limit,
  };
}

/** The audit command. */
export function auditCommand(run: (code: Promise<number>) => void): Command {
  return hostVerb('audit', "what the host's agent changed, and who asked: its audit trail, oldest first")
    .addOption(new Option('--since <duration|time>', 'only calls that ended in this last duration (30m, 12h, 7d) or since this time (2026-12-02T09:00Z)'))
    .addOption(new Option('--vm <name>', 'only calls about this VM'))
    .addOption(new Option('--op <id>', 'only calls of this operation (kvmctl ops list shows the ids)'))
    .addOption(new Option('--limit <n>', `the newest N matching records (default ${DEFAULT_LIMIT})`))
    .action((host: string, flags: AuditFlags, command: Command) => {
      runInContext(run, command, async (ctx) => {
        const filters = auditFilters(flags);
        const session = await openReadOnly(ctx, host, ['audit.read']);
        try {
          const records = await fetchAudit(session, filters, ctx.signal);
          if (ctx.json) ctx.reporter.result({ ok: true, operation: 'audit', host, records });
          else process.stdout.write(records.length === 0 ? 'no matching audit records\n' : auditTable(records));
          return EXIT_OK;
        } finally {
          await session.close();
        }
      });
    });
}
