/**
 * Loading of the YAML config files of agent and controller, the same way for
 * both: an absent file at the default path means defaults, an absent file
 * named explicitly is an error, and a bad file is reported with every bad key
 * at once (ConfigError, exit code 2) rather than one per attempt.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { errnoCode } from '../errors.js';

/** A config file (or flag set) that cannot be used; `problems` lists each bad key and why. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Renders zod issues as "key.path: message" lines, unknown keys named one by one. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const at = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${at ? `${at}.` : ''}${key}: unknown key`);
    } else {
      lines.push(`${at || '(top level)'}: ${issue.message}`);
    }
  }
  return lines;
}

/**
 * Reads a YAML file. Returns `{}` when the file is absent and `required` is
 * false (the default path), throws ConfigError when it cannot be read or parsed.
 */
export async function readYamlFile(path: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' && !required) return {};
    throw new ConfigError(path, [`cannot read the file: ${errnoCode(err) ?? String(err)}`]);
  }
  try {
    const value: unknown = parseYaml(text);
    return value ?? {};
  } catch (err) {
    const message = err instanceof YAMLParseError ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(path, [`not valid YAML: ${message}`]);
  }
}

/** Validates `raw` against `schema`, throwing ConfigError with every issue. */
export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown, source: string): z.output<S> {
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, describeIssues(result.error.issues));
  return result.data;
}

/** Parses "30s", "5m", "250ms", "1h" or a number of seconds into milliseconds. */
export function durationMs(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h']);
}
