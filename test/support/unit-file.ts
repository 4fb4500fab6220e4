/**
 * Reads a systemd unit file the way the tests need it: sections of
 * `Key=value` assignments, repeated keys kept in order (ReadWritePaths=
 * accumulates), comments and blank lines dropped. Not a full systemd parser
 * (no line continuations, no specifiers): the shipped unit uses neither.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The unit file shipped in deploy/systemd (from dist/test/support or test/support). */
export const SHIPPED_UNIT = fileURLToPath(
  new URL(import.meta.url.includes('/dist/') ? '../../../deploy/systemd/kvmclone-agent.service' : '../../deploy/systemd/kvmclone-agent.service', import.meta.url),
);

/** Section name → key → every value assigned, in order. */
export type UnitFile = Map<string, Map<string, string[]>>;

/** Parses unit-file text. */
export function parseUnitFile(text: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = unit.get(header[1] ?? '') ?? new Map<string, string[]>();
      unit.set(header[1] ?? '', section);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0 || !section) throw new Error(`not a unit-file line: ${line}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

/** Reads and parses the shipped unit. */
export function readShippedUnit(): UnitFile {
  return parseUnitFile(readFileSync(SHIPPED_UNIT, 'utf8'));
}

/** Every value of `key` in `[Service]`, split on white space (ReadWritePaths=a b ⇒ [a, b]). */
export function serviceWords(unit: UnitFile, key: string): string[] {
  return (unit.get('Service')?.get(key) ?? []).flatMap((v) => v.split(/\s+/).filter(Boolean));
}

/** The last value of `key` in `[Service]` (the one systemd applies), or undefined. */
export function serviceValue(unit: UnitFile, key: string): string | undefined {
  return unit.get('Service')?.get(key)?.at(-1);
}
