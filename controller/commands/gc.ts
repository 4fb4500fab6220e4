/**
 * `kvmctl gc HOST [--older-than 1h] [--dry-run]`: removes what operations
 * whose controller died left on HOST — staging files, uncommitted sync
 * journals, peer sockets, backup scratch files and NBD sockets — but only
 * those of operations not running on its agent; a committed journal is kept
 * (the next sync or agent start rolls it forward), as is anything younger
 * than --older-than. Prints what it removed and what it kept and why; with
 * --dry-run removes nothing. A clone rerun after gc starts over instead of
 * resuming from removed staging files.
 */
import { Option, type Command } from 'commander';
import { hostVerb } from '../cli/verb-builders.js';
import { runInContext } from '../cli/command-context.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { HostSession } from '../transport/host-session.js';
import { collectLeftovers, leftoverLine, parseOlderThan } from '../operations/leftovers.js';

interface GcFlags {
  olderThan?: string;
  dryRun?: boolean;
}

/** The gc command. */
export function gcCommand(run: (code: Promise<number>) => void): Command {
  return hostVerb('gc', 'remove leftovers (staging files, journals, peer sockets, scratch files) of operations that are not running on HOST')
    .addOption(new Option('--older-than <duration>', 'only leftovers at least this old (90s, 30m, 1h, 7d)'))
    .addOption(new Option('--dry-run', 'say what would be removed; remove nothing'))
    .action((host: string, flags: GcFlags, command: Command) => {
      runInContext(run, command, async (ctx) => {
        // Checked before any connection: a bad duration is a usage error (exit 2).
        const minAge = flags.olderThan === undefined ? 0 : parseOlderThan(flags.olderThan);
        const dryRun = flags.dryRun === true;
        const session = await HostSession.open(ctx.engine, host, {
          agentSocket: ctx.options.agentSocket,
          debug: (m) => ctx.reporter.debug(m),
          callMs: ctx.options.timeouts.callMs,
          signal: ctx.signal,
          needs: ['transfer.leftovers'],
        });
        try {
          const { removed, kept } = await collectLeftovers(session, minAge, dryRun, ctx.signal);
          if (ctx.json) {
            ctx.reporter.result({ ok: true, operation: 'gc', host, dryRun, olderThanSeconds: minAge, removed, kept });
          } else {
            const verb = dryRun ? 'would remove' : 'removed';
            process.stdout.write(`${host}: ${verb} ${removed.length}, kept ${kept.length}${dryRun ? ' (dry run: nothing was removed)' : ''}\n`);
            for (const l of removed) process.stdout.write(`  ${verb}: ${leftoverLine(l, false)}\n`);
            for (const l of kept) process.stdout.write(`  kept: ${leftoverLine(l, true)}\n`);
          }
          return EXIT_OK;
        } finally {
          await session.close();
        }
      });
    });
}
