/**
 * `kvmclone-agent install-unit`: writes the drop-in that keeps the systemd
 * unit's writable paths in step with agent.yaml, then asks systemd to reload
 * its units — only when systemd is the running init (a container, a chroot or
 * an image build has none, and `systemctl` there fails or talks to nothing).
 *
 * The file is written whole or not at all (temporary file, fsync, rename), so
 * a unit never starts with half a drop-in.
 */
import { access, mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../process/run-command.js';
import { PATHS_DROP_IN_NAME, renderPathsDropIn } from './paths-drop-in.js';
import { unitWritablePaths, type UnitPathOptions } from './unit-paths.js';

/** Where systemd reads local drop-ins of the agent's unit. */
export const DEFAULT_DROP_IN_DIR = '/etc/systemd/system/kvmclone-agent.service.d';

/** What install-unit was asked to do. */
export interface InstallUnitRequest {
  /** Config file the options came from (named in the drop-in's header). */
  source: string;
  /** Directory to write the drop-in into (default DEFAULT_DROP_IN_DIR). */
  outputDir?: string;
  /** Print the drop-in instead of writing it. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** What install-unit did. */
export interface InstallUnitResult {
  /** Path of the drop-in (written, or that would be written). */
  path: string;
  text: string;
  written: boolean;
  /** Whether `systemctl daemon-reload` ran. */
  reloaded: boolean;
}

/** The ways install-unit reaches the system, replaceable in tests. */
export interface InstallUnitSystem {
  /** True when systemd is PID 1 (sd_booted: /run/systemd/system exists). */
  systemdRunning(): Promise<boolean>;
  daemonReload(signal?: AbortSignal): Promise<void>;
}

/** The real system: sd_booted's test and `systemctl daemon-reload`. */
export const REAL_SYSTEM: InstallUnitSystem = {
  systemdRunning: () =>
    access('/run/systemd/system').then(
      () => true,
      () => false,
    ),
  daemonReload: async (signal) => {
    await runCommand('systemctl', ['daemon-reload'], { signal, timeoutMs: 60_000 });
  },
};

async function writeWhole(path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  const handle = await open(temporary, 'wx', 0o644);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temporary, { force: true });
    throw err;
  }
  await handle.close();
  await rename(temporary, path);
}

/**
 * Renders the drop-in for `options` and (unless dry-run) writes it, reloading
 * systemd when the drop-in went to systemd's own directory and systemd runs.
 * Bad paths are refused before anything is written.
 */
export async function installUnit(options: UnitPathOptions, request: InstallUnitRequest, system: InstallUnitSystem = REAL_SYSTEM): Promise<InstallUnitResult> {
  const text = renderPathsDropIn(unitWritablePaths(options), request.source);
  const dir = request.outputDir ?? DEFAULT_DROP_IN_DIR;
  const path = join(dir, PATHS_DROP_IN_NAME);
  if (request.dryRun === true) return { path, text, written: false, reloaded: false };
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await writeWhole(path, text);
  const reload = dir === DEFAULT_DROP_IN_DIR && (await system.systemdRunning());
  if (reload) await system.daemonReload(request.signal);
  return { path, text, written: true, reloaded: reload };
}
