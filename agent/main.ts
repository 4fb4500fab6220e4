#!/usr/bin/env -S node --initial-old-space-size=64 --max-semi-space-size=4 --expose-gc
/**
 * kvmclone-agent: parses the command line of CONTRACT.md, loads the config,
 * and runs the agent; `kvmclone-agent install-unit` writes the systemd unit's
 * paths drop-in from the same config instead. Exit codes: 0 stopped cleanly
 * (or done), 1 failed, 2 bad config or usage.
 */
import { Command, Option } from 'commander';
import { ConfigError } from '../shared/config/config-file.js';
import { KVMCLONE_VERSION } from '../shared/version.js';
import { loadAgentOptions } from './config/agent-config.js';
import { runAgent } from './run-agent.js';
import { installUnitCommand, type InstallUnitFlags } from './install/install-unit-command.js';

// libvirt binding calls and file I/O share libuv's pool: a hung libvirtd must
// not starve disk reads. Set before the pool's first use (no I/O happens at import).
process.env.UV_THREADPOOL_SIZE ??= '16';

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

let installFlags: InstallUnitFlags | undefined;
program
  .command('install-unit')
  .description('write /etc/systemd/system/kvmclone-agent.service.d/50-paths.conf (ReadWritePaths) from agent.yaml, then reload systemd')
  .option('--config <file>', 'config file (default /etc/kvmclone/agent.yaml; absent = defaults)')
  .option('--output <dir>', 'directory to write the drop-in into (default /etc/systemd/system/kvmclone-agent.service.d)')
  .option('--dry-run', 'print the drop-in, write nothing')
  .exitOverride()
  .action((options: InstallUnitFlags) => {
    installFlags = options;
  });
program.action(() => undefined);

try {
  program.parse();
} catch (err) {
  const code = (err as { exitCode?: number }).exitCode;
  process.exit(code === 0 ? 0 : 2);
}
if (installFlags !== undefined) process.exit(await installUnitCommand(installFlags));
const flags = program.opts<{ config?: string; socket?: string; roSocket?: string; imagesRoot?: string[]; libvirtUri?: string; auditFile?: string }>();
try {
  const options = await loadAgentOptions(flags);
  process.exit(await runAgent(options));
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`kvmclone-agent: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
