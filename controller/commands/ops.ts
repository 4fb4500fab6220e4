/**
 * `kvmctl ops [list | show ID]`: the operation history kept in SQLite under
 * $XDG_STATE_HOME/kvmclone — what ran, when, how it ended, and each step.
 */
import { Command } from 'commander';
import { notFound } from '../../shared/errors.js';
import { withCommandContext, type GlobalCliFlags } from '../cli/command-context.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { formatBytes } from '../cli/reporter.js';

/** The ops command group. */
export function opsCommand(run: (code: Promise<number>) => void): Command {
  const ops = new Command('ops').description('operation history');
  const list = (command: Command): void =>
    run(
      withCommandContext(command.optsWithGlobals<GlobalCliFlags>(), async (ctx) => {
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
      }),
    );
  ops.command('list', { isDefault: true }).description('recent operations, newest first').action((_f: unknown, command: Command) => list(command));
  ops
    .command('show')
    .description('one operation and every step it took')
    .argument('<id>', 'operation id (or a unique prefix)')
    .action((id: string, _f: unknown, command: Command) =>
      run(
        withCommandContext(command.optsWithGlobals<GlobalCliFlags>(), async (ctx) => {
          const found = ctx.store().get(id);
          if (!found) throw notFound(`no operation ${id} in the history`);
          if (ctx.json) {
            ctx.reporter.result({ ok: true, operation: 'ops-show', record: found.operation, events: found.events });
            return EXIT_OK;
          }
          const o = found.operation;
          process.stdout.write(
            `${o.id}: ${o.kind} ${o.vm}@${o.sourceHost} -> ${o.destVm}@${o.destHost}\n  state ${o.state}, started ${o.startedAt}, finished ${o.finishedAt ?? '-'}, ${formatBytes(o.bytesOnWire)} on the wire\n` +
              (o.errorMessage ? `  error ${o.errorCode}: ${o.errorMessage}\n` : '') +
              found.events.map((e) => `  ${e.at}  ${e.type}${Object.keys(e.data as object).length ? `  ${JSON.stringify(e.data)}` : ''}\n`).join(''),
          );
          return EXIT_OK;
        }),
      ),
    );
  return ops;
}
