/**
 * The `kvmclone-agent install-unit` verb: loads agent.yaml exactly as the
 * agent would, writes (or with --dry-run prints) the unit's paths drop-in and
 * says what it did. Exit codes as the agent's: 0 done, 1 failed, 2 bad config
 * or a path that cannot go into a unit file.
 */
import { ConfigError } from '../../shared/config/config-file.js';
import { KvmcloneError } from '../../shared/errors.js';
import { AGENT_DEFAULTS, loadAgentOptions } from '../config/agent-config.js';
import { installUnit, type InstallUnitSystem, REAL_SYSTEM } from './install-unit.js';

/** Flags of `install-unit`. */
export interface InstallUnitFlags {
  config?: string;
  output?: string;
  dryRun?: boolean;
}

/** Runs the verb; resolves with the exit code. `out`/`err` receive text for the operator. */
export async function installUnitCommand(
  flags: InstallUnitFlags,
  io: { out: (text: string) => void; err: (text: string) => void } = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
  system: InstallUnitSystem = REAL_SYSTEM,
): Promise<number> {
  const source = flags.config ?? AGENT_DEFAULTS.configPath;
  try {
    const options = await loadAgentOptions({ config: flags.config });
    const result = await installUnit(options, { source, outputDir: flags.output, dryRun: flags.dryRun === true }, system);
    if (!result.written) {
      io.out(`# ${result.path} (dry run: not written)\n${result.text}`);
      return 0;
    }
    io.out(`wrote ${result.path}\n`);
    io.out(
      result.reloaded ? 'systemd reloaded: restart kvmclone-agent.service to apply\n' : 'systemd is not running here (or the drop-in is not in its directory): nothing reloaded\n',
    );
    return 0;
  } catch (err) {
    if (err instanceof ConfigError || (err instanceof KvmcloneError && err.code === 'INVALID_ARGUMENT')) {
      io.err(`kvmclone-agent install-unit: ${err.message}\n`);
      return 2;
    }
    io.err(`kvmclone-agent install-unit: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
