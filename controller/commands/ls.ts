/**
 * `kvmctl ls HOST`: the VMs of a host with their state, disks and sizes,
 * straight from its agent — over the agent's read-only socket (ListDomains
 * and DescribeDomain are all it needs), or its admin socket when an older
 * agent has none. A VM that cannot be described (a disk file gone) is
 * listed with the reason instead of its disks.
 */
import type { Command } from 'commander';
import { hostVerb } from '../cli/verb-builders.js';
import { openReadOnly, runInContext, type CommandContext } from '../cli/command-context.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { formatBytes } from '../cli/reporter.js';
import type { HostSession } from '../transport/host-session.js';
import { KvmcloneError } from '../../shared/errors.js';

/** The VMs of the host the session is on, each with its disks or why they could not be read. */
async function describeVms(session: HostSession, signal: AbortSignal) {
  const { domains } = await session.call(session.clients.domain, session.clients.domain.listDomains, {}, signal);
  const vms = [];
  for (const d of domains) {
    // One VM that cannot be described (a disk file gone, the VM undefined meanwhile) is said on its line, not the end of the list.
    const described = await session.call(session.clients.domain, session.clients.domain.describeDomain, { name: d.name }, signal).catch((err: unknown) => {
      if (err instanceof KvmcloneError && (err.code === 'FAILED_PRECONDITION' || err.code === 'NOT_FOUND')) return { problem: err.message };
      throw err;
    });
    vms.push({
      name: d.name,
      uuid: d.uuid,
      state: d.state.replace('DOMAIN_STATE_', '').toLowerCase(),
      vcpus: d.vcpus,
      memoryBytes: d.memoryBytes,
      disks:
        'problem' in described
          ? []
          : described.disks.map((k) => ({
              target: k.target,
              device: k.device,
              path: k.path,
              format: k.format,
              virtualSize: k.virtualSize,
              allocatedSize: k.allocatedSize,
            })),
      ...('problem' in described && { problem: described.problem }),
    });
  }
  return vms;
}

/** The VMs as a table on stdout. */
function printVms(vms: Awaited<ReturnType<typeof describeVms>>): void {
  const out = process.stdout;
  out.write(`${'NAME'.padEnd(20)} ${'STATE'.padEnd(10)} ${'VCPU'.padStart(4)} ${'MEMORY'.padStart(10)}  DISKS\n`);
  for (const vm of vms) {
    const disks = vm.problem ?? vm.disks.map((k) => `${k.target}:${k.format} ${formatBytes(k.virtualSize)} (${formatBytes(k.allocatedSize)} used) ${k.path}`).join('; ');
    out.write(`${vm.name.padEnd(20)} ${vm.state.padEnd(10)} ${String(vm.vcpus).padStart(4)} ${formatBytes(vm.memoryBytes).padStart(10)}  ${disks}\n`);
  }
}

/** `kvmctl ls HOST` once its context is set up. */
async function lsHost(ctx: CommandContext, host: string): Promise<number> {
  const session = await openReadOnly(ctx, host, ['domain.list', 'domain.describe']);
  try {
    const vms = await describeVms(session, ctx.signal);
    if (ctx.json) {
      ctx.reporter.result({ ok: true, operation: 'ls', host, vms });
    } else {
      printVms(vms);
    }
    return EXIT_OK;
  } finally {
    await session.close();
  }
}

/** The ls command. */
export function lsCommand(run: (code: Promise<number>) => void): Command {
  return hostVerb('ls', 'list the VMs of a host: state, disks, sizes').action((host: string, _flags: unknown, command: Command) => {
    runInContext(run, command, (ctx) => lsHost(ctx, host));
  });
}
