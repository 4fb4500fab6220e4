#!/usr/bin/env -S node --initial-old-space-size=64 --max-semi-space-size=1 --expose-gc
/**
 * kvmclone-agent: parses its command line (cli-program.ts), loads the config,
 * and runs the agent; `kvmclone-agent install-unit` writes the systemd unit's
 * paths drop-in from the same config instead. Exit codes: 0 stopped cleanly
 * (or done), 1 failed, 2 bad config or usage.
 */
import { ConfigError } from '../shared/config/config-file.js';
import { loadAgentOptions } from './config/agent-config.js';
import { runAgent } from './run-agent.js';
import { installUnitCommand, type InstallUnitFlags } from './install/install-unit-command.js';
import { buildAgentProgram } from './cli-program.js';

// libvirt binding calls and file I/O share libuv's pool: a hung libvirtd must
// not starve disk reads. Set before the pool's first use (no I/O happens at import).
process.env.UV_THREADPOOL_SIZE ??= '16';

let installFlags: InstallUnitFlags | undefined;
const program = buildAgentProgram((flags) => {
  installFlags = flags;
});

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
