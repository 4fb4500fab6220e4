/**
 * Renders the systemd drop-in (kvmclone-agent.service.d/50-paths.conf) that
 * opens the agent's configured directories under `ProtectSystem=strict`.
 *
 * A path goes into a unit file as text systemd parses again, so each one is
 * checked (absolute, normal form, no control characters: a newline would start
 * a directive of its own) and quoted: double quotes around it, `\` and `"`
 * escaped with a backslash, `%` doubled (systemd's specifier character). Every
 * path carries systemd's `-` prefix: a directory that is missing does not stop
 * the unit's namespace from being set up, and the agent itself then names the
 * missing root at start-up instead of systemd's opaque 226/NAMESPACE.
 */
import { checkAbsolutePath } from '../../shared/validation.js';
import { invalidArgument } from '../../shared/errors.js';
import { underHome, type WritablePath } from './unit-paths.js';

/** File name of the drop-in, ordered after the packaged ones (10-…) and before local overrides (90-…). */
export const PATHS_DROP_IN_NAME = '50-paths.conf';

/** Quotes one unit-file word: `"…"` with `\`, `"` escaped and `%` doubled. */
export function quoteUnitWord(word: string): string {
  return `"${word.replace(/[\\"]/g, (c) => `\\${c}`).replace(/%/g, '%%')}"`;
}

/** Checks one path for a unit file; throws INVALID_ARGUMENT naming the config key. */
function checkUnitPath({ path, why }: WritablePath): string {
  try {
    return checkAbsolutePath(path, why);
  } catch (err) {
    throw invalidArgument(`cannot write ${why} into the systemd unit: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * The drop-in's text for `paths`: one `ReadWritePaths=` per path with the
 * config key it comes from as a comment, and `ProtectHome=read-only` when a
 * path lies under /home, /root or /run/user (the unit's `ProtectHome=yes`
 * would hide it). Throws before producing anything if any path is bad.
 */
export function renderPathsDropIn(paths: readonly WritablePath[], source: string): string {
  const checked = paths.map((p) => ({ path: checkUnitPath(p), why: p.why }));
  if (checked.length === 0) throw invalidArgument('no paths to write into the systemd unit');
  const lines = [
    `# Written by \`kvmclone-agent install-unit\` from ${source.replace(/[\r\n]/g, ' ')}.`,
    '# Re-run it after changing image_roots, live.scratch_dir or the sockets; edits here are overwritten.',
    '[Service]',
  ];
  for (const { path, why } of checked) {
    lines.push(`# ${why}`, `ReadWritePaths=${quoteUnitWord(`-${path}`)}`);
  }
  const home = checked.filter(({ path }) => underHome(path));
  if (home.length > 0) {
    lines.push(`# ${home.map((h) => h.why).join(', ')} under /home, /root or /run/user, which ProtectHome=yes hides`, 'ProtectHome=read-only');
  }
  return `${lines.join('\n')}\n`;
}
