/**
 * The report of `kvmctl hosts check` (and the last step of `hosts setup`):
 * each agent's version, capabilities, host facts, free space, the SSH account
 * in use and the leftovers of earlier operations, with kvmctl's version
 * beside the agents'. It reads only (GetInfo, GetFreeSpace, ListLeftovers),
 * so it uses the agent's read-only socket, or the admin socket when an older
 * agent has none.
 */
import { KVMCLONE_VERSION } from '../../shared/version.js';
import { KvmcloneError } from '../../shared/errors.js';
import { openReadOnly, type CommandContext } from '../cli/command-context.js';
import { EXIT_FAILED, EXIT_OK } from '../cli/exit-codes.js';
import { formatBytes } from '../cli/reporter.js';
import { SshError } from '../transport/ssh-engine.js';
import { checkAccount, describeAccount } from './account-check.js';
import { fetchLeftovers, leftoverLine, type LeftoverReport } from './leftovers.js';

/** The leftovers part of a host's text report. */
function leftoversText(host: string, leftovers: LeftoverReport[] | null): string {
  if (leftovers === null) return '  leftovers: not reported (the agent is older than ListLeftovers)\n';
  if (leftovers.length === 0) return '  leftovers: none\n';
  const removable = leftovers.filter((l) => l.keepReason === '').length;
  return `  leftovers: ${leftovers.length} (${removable} removable with kvmctl gc ${host})\n` + leftovers.map((l) => `    ${leftoverLine(l, true)}\n`).join('');
}

/**
 * The agents' versions side by side with kvmctl's, and a warning when they
 * differ: an operation between two hosts needs the capabilities both agents
 * have, and kvmctl refuses (exit 3) one that needs what an older agent lacks.
 */
export function compareVersions(agents: readonly { host: string; version: string }[], kvmctl: string = KVMCLONE_VERSION): { differ: boolean; text: string } {
  if (agents.length === 0) return { differ: false, text: '' };
  const differ = new Set([kvmctl, ...agents.map((a) => a.version)]).size > 1;
  const line = `versions: kvmctl ${kvmctl}; ${agents.map((a) => `${a.host} ${a.version}`).join(', ')}\n`;
  if (!differ) return { differ, text: agents.length > 1 ? line : '' };
  const older = agents.filter((a) => a.version !== kvmctl).map((a) => a.host);
  return {
    differ,
    text: `${line}warning: the versions differ: an operation needs capabilities that both of its agents have, and kvmctl refuses one that needs what an agent lacks (exit 3, naming it); upgrade kvmclone-agent on ${older.join(', ') || 'the older hosts'} to ${kvmctl}\n`,
  };
}

/**
 * Checks each host and prints the report (text or the --json result);
 * returns the exit code: 0 only when every host answered. Also the last step
 * of `kvmctl hosts setup`.
 */
export async function checkHosts(
  ctx: CommandContext,
  list: readonly string[],
  options: { jsonResult: boolean } = { jsonResult: true },
): Promise<{ code: number; hosts: unknown[] }> {
  const results = [];
  for (const host of list) {
    try {
      const s = await openReadOnly(ctx, host);
      try {
        const space = await Promise.all(s.info.imageRoots.map((root) => s.call(s.clients.storage, s.clients.storage.getFreeSpace, { path: root }, ctx.signal)));
        const h = s.info.host;
        const account = await checkAccount(s, ctx.signal);
        // An agent older than the leftover RPCs reports none (null in --json), rather than failing the check.
        const leftovers: LeftoverReport[] | null = s.info.capabilities.includes('transfer.leftovers') ? await fetchLeftovers(s, ctx.signal) : null;
        results.push({
          host,
          ok: true,
          agentVersion: s.info.agentVersion,
          apiVersions: s.info.apiVersions,
          capabilities: s.info.capabilities,
          hostFacts: h,
          account,
          freeSpace: space.map((x) => ({ path: x.path, availableBytes: x.availableBytes, totalBytes: x.totalBytes })),
          leftovers,
        });
        if (!ctx.json) {
          process.stdout.write(
            `${host}: ok — agent ${s.info.agentVersion} (API ${s.info.apiVersions.join(', ')}), ${h?.hostname}, ${h?.cpus} CPUs ${h?.cpuModel}, ${formatBytes(h?.memoryBytes ?? 0)}, libvirt ${h?.libvirtVersion}, QEMU ${h?.qemuVersion}${h?.kvm ? ', KVM' : ''}\n` +
              `  ${describeAccount(account)}\n` +
              space.map((x) => `  ${x.path}: ${formatBytes(x.availableBytes)} free of ${formatBytes(x.totalBytes)}\n`).join('') +
              leftoversText(host, leftovers),
          );
        }
      } finally {
        await s.close();
      }
    } catch (err) {
      if (!(err instanceof KvmcloneError || err instanceof SshError)) throw err;
      results.push({ host, ok: false, error: { code: err instanceof SshError ? err.kind : err.code, message: err.message } });
      if (!ctx.json) process.stdout.write(`${host}: FAILED — ${err.message}\n`);
    }
  }
  const ok = results.every((r) => r.ok);
  const versions = compareVersions(results.flatMap((r) => (r.ok && 'agentVersion' in r && r.agentVersion !== undefined ? [{ host: r.host, version: r.agentVersion }] : [])));
  if (!ctx.json && versions.text !== '') process.stdout.write(versions.text);
  if (ctx.json && options.jsonResult) ctx.reporter.result({ ok, operation: 'hosts-check', hosts: results, kvmctlVersion: KVMCLONE_VERSION, versionsDiffer: versions.differ });
  return { code: ok ? EXIT_OK : EXIT_FAILED, hosts: results };
}
