/**
 * `kvmctl config show | get KEY | set KEY VALUE | unset KEY`: kvmctl.yaml
 * without editing YAML by hand (controller/config/config-edit.ts). Works on
 * a file kvmctl cannot load — that is when it is needed — and refuses (exit
 * 2) any change after which it could not: the file is then left as it was.
 */
import { Command } from 'commander';
import { ConfigError } from '../../shared/config/config-file.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../cli/exit-codes.js';
import type { GlobalCliFlags } from '../cli/command-context.js';
import { applyConfigEdit, configValue, formatValue, readConfigText, writeConfigText, type ConfigEdit } from '../config/config-edit.js';
import { defaultConfigPath } from '../config/controller-config.js';

/** Prints a result (a JSON line with --json) and returns the exit code. */
function finish(flags: GlobalCliFlags, code: number, result: Record<string, unknown>, text: string): number {
  if (flags.json === true) process.stdout.write(`${JSON.stringify({ type: 'result', ...result })}\n`);
  else if (text !== '') (code === EXIT_OK ? process.stdout : process.stderr).write(text.endsWith('\n') ? text : `${text}\n`);
  return code;
}

async function guarded(flags: GlobalCliFlags, body: (path: string) => Promise<number>): Promise<number> {
  const path = flags.config ?? defaultConfigPath();
  try {
    return await body(path);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return finish(flags, EXIT_USAGE, { ok: false, error: { code: 'INVALID_ARGUMENT', message: err.message } }, `kvmctl: ${err.message}`);
  }
}

async function edit(flags: GlobalCliFlags, change: ConfigEdit): Promise<number> {
  return guarded(flags, async (path) => {
    const before = await readConfigText(path);
    const after = applyConfigEdit(before, change, path);
    if (after === before) return finish(flags, EXIT_OK, { ok: true, operation: 'config', file: path, changed: false }, `${path}: ${change.key} unchanged`);
    await writeConfigText(path, after);
    return finish(
      flags,
      EXIT_OK,
      { ok: true, operation: 'config', file: path, changed: true },
      `${path}: ${change.op === 'set' ? `${change.key} set` : `${change.key} removed (its default applies)`}`,
    );
  });
}

/** The config command and its subcommands. */
export function configCommand(run: (code: Promise<number>) => void): Command {
  const config = new Command('config').description("kvmctl's config file (--config, default $XDG_CONFIG_HOME/kvmclone/kvmctl.yaml): show, get, set, unset");
  const flagsOf = (command: Command): GlobalCliFlags => command.optsWithGlobals<GlobalCliFlags>();
  config
    .command('show')
    .description('print the config file as it is (comments and all)')
    .action((_flags: unknown, command: Command) => {
      const flags = flagsOf(command);
      run(
        guarded(flags, async (path) => {
          const text = await readConfigText(path);
          return finish(
            flags,
            EXIT_OK,
            { ok: true, operation: 'config', file: path, text },
            text === '' ? `# ${path}: no settings, every one is its default` : `# ${path}\n${text}`,
          );
        }),
      );
    });
  config
    .command('get')
    .description('print the value of KEY (e.g. transfer.bwlimit) set in the file; exit 1 when the file does not set it')
    .argument('<key>', 'dotted key, e.g. ssh.engine')
    .action((key: string, _flags: unknown, command: Command) => {
      const flags = flagsOf(command);
      run(
        guarded(flags, async (path) => {
          const value = configValue(await readConfigText(path), key);
          if (value === undefined)
            return finish(
              flags,
              EXIT_FAILED,
              { ok: false, file: path, key, error: { code: 'NOT_FOUND', message: `${key} is not set in ${path} (its default applies)` } },
              `kvmctl: ${key} is not set in ${path} (its default applies)`,
            );
          return finish(flags, EXIT_OK, { ok: true, operation: 'config', file: path, key, value }, formatValue(value));
        }),
      );
    });
  config
    .command('set')
    .description('set KEY to VALUE (written as in YAML: 4, true, 50M, 30s, [a, b]); refused if kvmctl could not load the result')
    .argument('<key>', 'dotted key, e.g. transfer.bwlimit')
    .argument('<value>', 'the value')
    .action((key: string, value: string, _flags: unknown, command: Command) => {
      run(edit(flagsOf(command), { op: 'set', key, value }));
    });
  config
    .command('unset')
    .description('remove KEY from the file, so its default applies')
    .argument('<key>', 'dotted key')
    .action((key: string, _flags: unknown, command: Command) => {
      run(edit(flagsOf(command), { op: 'unset', key }));
    });
  return config;
}
