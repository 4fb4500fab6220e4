/**
 * kvmclone-agent's command line (README "The agent"): the options of the daemon and
 * the `install-unit` command. Built here so that main.ts parses it and the
 * kvmclone-agent(8) man page is rendered from it at build time
 * (scripts/gen-docs.mjs) — one source for both.
 */
import { Command, Option } from 'commander';
import { KVMCLONE_VERSION } from '../shared/version.js';
import type { InstallUnitFlags } from './install/install-unit-command.js';

/** The program; `onInstallUnit` receives install-unit's flags when that command is given. */
export function buildAgentProgram(onInstallUnit: (flags: InstallUnitFlags) => void): Command {
  const program = new Command('kvmclone-agent')
    .description('kvmclone host agent: serves the kvmclone gRPC API on a unix socket')
    .version(KVMCLONE_VERSION)
    .addOption(new Option('--config <file>', 'config file (default /etc/kvmclone/agent.yaml; absent = defaults)'))
    .addOption(new Option('--socket <path>', 'admin unix socket: every RPC (default /run/kvmclone/agent.sock)'))
    .addOption(new Option('--ro-socket <path>', 'read-only unix socket: inventory, free space, extents, hashes, digests (default agent-ro.sock beside --socket)'))
    .addOption(
      new Option('--images-root <dir>', 'directory images may be read from and written to (repeatable; default /var/lib/libvirt/images)').argParser(
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      ),
    )
    .addOption(new Option('--libvirt-uri <uri>', 'libvirt connection URI (default qemu:///system)'))
    .addOption(new Option('--audit-file <path>', 'audit trail of mutating calls (default /var/log/kvmclone/audit.log)'))
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  program
    .command('install-unit')
    .description('write /etc/systemd/system/kvmclone-agent.service.d/50-paths.conf (ReadWritePaths) from agent.yaml, then reload systemd')
    .option('--config <file>', 'config file (default /etc/kvmclone/agent.yaml; absent = defaults)')
    .option('--output <dir>', 'directory to write the drop-in into (default /etc/systemd/system/kvmclone-agent.service.d)')
    .option('--dry-run', 'print the drop-in, write nothing')
    .exitOverride()
    .action((options: InstallUnitFlags) => {
      onInstallUnit(options);
    });
  program.action(() => undefined);
  return program;
}
