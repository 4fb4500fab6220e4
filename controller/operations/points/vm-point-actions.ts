/**
 * The restore points of a copy, as `kvmctl points` and `kvmctl replica
 * points` show them, and the roll-back `kvmctl restore` and `kvmctl replica
 * restore` perform: a copy is a VM on a host, whichever verb named it. The
 * restore consumes the point and every newer one (like `zfs rollback -r`);
 * each disk's result is checked by the agent against the digest recorded
 * with its point.
 */
import { randomUUID } from 'node:crypto';
import { failedPrecondition } from '../../../shared/errors.js';
import { checkVmName } from '../../../shared/validation.js';
import { openReadOnly, type CommandContext } from '../../cli/command-context.js';
import { confirm } from '../../cli/confirm.js';
import { EXIT_OK } from '../../cli/exit-codes.js';
import { formatBytes } from '../../cli/reporter.js';
import { underLock } from '../hold-lock.js';
import { findVmPoint, listVmPoints, restoreDisk } from './vm-points.js';
import { parseHostSpec } from '../../transport/host-spec.js';
import { HostSession } from '../../transport/host-session.js';

function when(unix: number): string {
  return new Date(unix * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Lists the restore points of `vm` on `host` (newest first, with the space they take); exit code. */
export async function showVmPoints(ctx: CommandContext, vm: string, host: string): Promise<number> {
  const name = checkVmName(vm, 'VM');
  parseHostSpec(host);
  const session = await openReadOnly(ctx, host, ['domain.describe', 'transfer.restore-points']);
  try {
    const domain = await session.call(session.clients.domain, session.clients.domain.describeDomain, { name }, ctx.signal);
    const points = await listVmPoints(session, domain, ctx.signal);
    const totalBytes = points.reduce((n, p) => n + p.sizeBytes, 0);
    if (ctx.json) ctx.reporter.result({ ok: true, operation: 'points', vm: name, host, totalBytes, points });
    else {
      const out = process.stdout;
      if (points.length === 0) out.write(`${name} on ${host}: no restore points (kvmctl sync --keep N keeps them)\n`);
      else {
        out.write(`${name} on ${host}: ${points.length} restore point(s), ${formatBytes(totalBytes)} on disk, newest first\n`);
        for (const p of points) {
          const disks = p.disks.map((d) => `${d.target} ${formatBytes(d.sizeBytes)}`).join(', ');
          out.write(
            `  ${p.id}  ${when(p.createdUnix)}  ${formatBytes(p.sizeBytes).padStart(10)}  ${disks}${p.label ? `  "${p.label}"` : ''}${p.complete ? '' : '  (not every disk: cannot be restored)'}\n`,
          );
        }
      }
    }
    return EXIT_OK;
  } finally {
    await session.close();
  }
}

/** Rolls the shut-off `vm` on `host` back to the point `pointArg` names (asking first unless `yes`); exit code. */
export async function restoreVmPoint(ctx: CommandContext, vm: string, host: string, pointArg: string, yes: boolean): Promise<number> {
  const name = checkVmName(vm, 'VM');
  parseHostSpec(host);
  const session = await HostSession.open(ctx.engine, host, {
    agentSocket: ctx.options.agentSocket,
    debug: (m) => ctx.reporter.debug(m),
    callMs: ctx.options.timeouts.callMs,
    signal: ctx.signal,
    needs: ['domain.describe', 'transfer.restore-points', 'transfer.lock'],
  });
  const operationId = randomUUID();
  try {
    return await underLock(session, name, operationId, `restore ${name} to a restore point`, async () => {
      const domain = await session.call(session.clients.domain, session.clients.domain.describeDomain, { name }, ctx.signal);
      const state = (domain.domain?.state ?? 'unknown').replace('DOMAIN_STATE_', '').toLowerCase();
      if (state !== 'shutoff') throw failedPrecondition(`${name} on ${host} is ${state}: shut it down before restoring it`);
      const points = await listVmPoints(session, domain, ctx.signal);
      const point = findVmPoint(points, pointArg, name);
      if (!point.complete)
        throw failedPrecondition(
          `restore point ${point.id} of ${name} does not cover every disk (${point.disks.map((d) => d.target).join(', ')} only): it cannot bring the VM back whole`,
        );
      const newer = points.slice(0, points.indexOf(point));
      const question = `Roll ${name} on ${host} back to ${when(point.createdUnix)} (point ${point.id})? It and ${newer.length} newer point(s) are used up.`;
      if (!(await confirm(question, { yes: yes, json: ctx.json, signal: ctx.signal, unattended: false }))) {
        throw failedPrecondition(`restoring ${name} rolls it back and uses up ${newer.length + 1} restore point(s); confirm, or pass --yes`);
      }
      const digests: Record<string, string> = {};
      for (const d of point.disks) {
        digests[d.target] = await restoreDisk(session, { targetPath: d.path, pointId: d.pointId, destVm: name, operationId }, ctx.signal, (e) => {
          if (e.phase === 'apply') ctx.reporter.progress(`${d.target} restore`, e.pointsDone, e.pointsTotal);
        });
        ctx.reporter.itemDone(`${d.target} restore`, `${d.path} back to point ${d.pointId}, verified ${(digests[d.target] ?? '').slice(0, 23)}…`);
      }
      ctx.reporter.result({
        ok: true,
        operation: 'restore',
        id: operationId,
        vm: name,
        host,
        point: point.id,
        created: when(point.createdUnix),
        discarded: newer.map((p) => p.id),
        digests,
      });
      return EXIT_OK;
    });
  } finally {
    await session.close();
  }
}
