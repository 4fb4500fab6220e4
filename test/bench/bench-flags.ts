/**
 * Command-line flags of the benchmarks, parsed as faults- and fuzz-bench
 * parse theirs (node:util parseArgs, strict: an unknown flag, or one without
 * its value, is an error), each with an explicit default, and numbers checked:
 * a bad value is said and refused, never read as NaN or as "use the default".
 */
import { parseArgs } from 'node:util';

/** What a numeric flag takes: a number of at least `min`, a whole one when `integer`. */
export interface NumberRule {
  min: number;
  integer?: boolean;
}

/** The value of each flag named in `defaults` (as `--name value` or `--name=value` in `args`), or its default. */
export function parseBenchFlags<K extends string>(defaults: Record<K, string>, args: readonly string[]): Record<K, string> {
  const options = Object.fromEntries(Object.entries<string>(defaults).map(([name, value]) => [name, { type: 'string' as const, default: value }]));
  const { values } = parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
  return { ...values } as Record<K, string>;
}

/** `value` of flag `--name` as a number that keeps `rule`; throws saying what the flag takes otherwise. */
export function numberFlag(name: string, value: string, rule: NumberRule): number {
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(n) || n < rule.min || (rule.integer === true && !Number.isInteger(n)))
    throw new Error(`--${name} takes ${rule.integer === true ? 'a whole number' : 'a number'} of at least ${rule.min}, got '${value}'`);
  return n;
}

/** `value` of flag `--name` as a comma-separated list of numbers that each keep `rule`; throws otherwise. */
export function numberListFlag(name: string, value: string, rule: NumberRule): number[] {
  return value.split(',').map((item) => numberFlag(name, item, rule));
}

/** `value` of `--data` as the data sets it names (unique, ext4; bench-data.ts), each once; throws naming a bad one. */
export function dataSetsFlag(value: string): ('unique' | 'ext4')[] {
  const sets = value.split(',');
  const bad = sets.find((d) => d !== 'unique' && d !== 'ext4');
  if (bad !== undefined) throw new Error(`--data takes unique and/or ext4, got '${bad}'`);
  return [...new Set(sets as ('unique' | 'ext4')[])];
}

/** The flags of a benchmark over the data sets (sync, clone): --size-gib (4), --runs (3), --data (unique,ext4); bad ones end it with usage. */
export function dataSetBenchFlags(bench: string, args: readonly string[]): { sizeGiB: number; runs: number; dataSets: ('unique' | 'ext4')[] } {
  return flagsOrUsage(`usage: ${bench} [--size-gib G] [--runs N] [--data unique,ext4]`, () => {
    const flags = parseBenchFlags({ 'size-gib': '4', runs: '3', data: 'unique,ext4' }, args);
    return {
      sizeGiB: numberFlag('size-gib', flags['size-gib'], { min: 1, integer: true }),
      runs: numberFlag('runs', flags.runs, { min: 1, integer: true }),
      dataSets: dataSetsFlag(flags.data),
    };
  });
}

/** Runs `read` (which reads the flags); on an error, prints it with `usage` and exits 2, as the other benches do on bad usage. */
export function flagsOrUsage<T>(usage: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
    process.exit(2);
  }
}
