/**
 * Reading OpenSSH client config files into a tree of lines: the keyword/value
 * split and argument quoting of readconf.c, `Include` with globs (relative
 * to ~/.ssh, as for user configs), and `Match` criteria parsed but not yet
 * evaluated. Evaluation (which lines apply to a host) is ssh-config.ts: it
 * must run line by line because `Match host` sees the HostName obtained so far.
 */
import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { matchPattern } from './ssh-pattern.js';

/** A config problem, located at FILE:LINE, that ssh would also reject (or that kvmctl cannot honour). */
export class SshConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshConfigError';
  }
}

/** Where a line came from, for messages. */
export interface ConfigLocation {
  readonly file: string;
  readonly line: number;
}

/** One `Match` criterion, e.g. `!host *.lan` → { name: 'host', negated: true, arg: '*.lan' }. */
export interface MatchCriterion {
  readonly name: string;
  readonly negated: boolean;
  readonly arg?: string;
}

/** One meaningful line of a config file. Keywords are lower-cased, as OpenSSH compares them. */
export type ConfigItem =
  | (ConfigLocation & { readonly kind: 'option'; readonly keyword: string; readonly args: readonly string[] })
  | (ConfigLocation & { readonly kind: 'host'; readonly patterns: readonly string[] })
  | (ConfigLocation & { readonly kind: 'match'; readonly criteria: readonly MatchCriterion[]; readonly text: string })
  | (ConfigLocation & { readonly kind: 'include'; readonly files: readonly ConfigFile[] });

/** A parsed config file with its includes already read. */
export interface ConfigFile {
  readonly path: string;
  readonly items: readonly ConfigItem[];
}

/** OpenSSH's READCONF_MAX_DEPTH: also what stops an Include loop. */
const MAX_INCLUDE_DEPTH = 16;
/** Criteria that take no argument. */
const BARE_CRITERIA = new Set(['all', 'canonical', 'final']);

/**
 * Reads `path` (and what it includes). An absent file is an empty config,
 * as for ssh; unreadable files and syntax errors throw SshConfigError.
 * `home` anchors `~` and relative Include paths (~/.ssh/...).
 */
export async function readSshConfig(path: string, home: string): Promise<ConfigFile> {
  return readConfigFile(path, home, 0, true);
}

async function readConfigFile(path: string, home: string, depth: number, absentOk: boolean): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (absentOk && code === 'ENOENT') return { path, items: [] };
    throw new SshConfigError(`cannot read ssh config ${path}: ${(err as Error).message}`);
  }
  const items: ConfigItem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const item = await parseLine(lines[i].replace(/\r$/, ''), { file: path, line: i + 1 }, home, depth);
    if (item) items.push(item);
  }
  return { path, items };
}

async function parseLine(raw: string, at: ConfigLocation, home: string, depth: number): Promise<ConfigItem | undefined> {
  // strdelim(): the keyword ends at whitespace or one '='; then optional '=' and whitespace.
  const m = /^\s*([^\s=]*)\s*=?\s*(.*)$/.exec(raw);
  const keywordRaw = m?.[1] ?? '';
  if (keywordRaw === '' || keywordRaw.startsWith('#')) return undefined;
  const keyword = keywordRaw.toLowerCase();
  const args = splitArgs(m?.[2] ?? '', at);
  if (keyword === 'host') {
    if (args.length === 0) throw new SshConfigError(`${where(at)}: Host needs at least one pattern`);
    return { ...at, kind: 'host', patterns: args };
  }
  if (keyword === 'match') return { ...at, kind: 'match', criteria: parseCriteria(args, at), text: args.join(' ') };
  if (keyword === 'include') {
    if (args.length === 0) throw new SshConfigError(`${where(at)}: Include needs a file name`);
    if (depth + 1 > MAX_INCLUDE_DEPTH) throw new SshConfigError(`${where(at)}: Include nested more than ${MAX_INCLUDE_DEPTH} deep (a loop?)`);
    const files: ConfigFile[] = [];
    for (const arg of args) {
      const expanded = arg.startsWith('~/') ? join(home, arg.slice(2)) : arg;
      const absolute = isAbsolute(expanded) ? expanded : join(home, '.ssh', expanded);
      // like ssh: a pattern (or plain name) that matches no file includes nothing
      for (const path of await globPath(absolute)) files.push(await readConfigFile(path, home, depth + 1, true));
    }
    return { ...at, kind: 'include', files };
  }
  return { ...at, kind: 'option', keyword, args };
}

function parseCriteria(args: readonly string[], at: ConfigLocation): MatchCriterion[] {
  if (args.length === 0) throw new SshConfigError(`${where(at)}: Match needs criteria (e.g. "Match all" or "Match host PATTERNS")`);
  const criteria: MatchCriterion[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const word = args[i];
    const negated = word.startsWith('!');
    const name = (negated ? word.slice(1) : word).toLowerCase();
    if (BARE_CRITERIA.has(name)) {
      criteria.push({ name, negated });
      continue;
    }
    const arg = args[i + 1];
    if (arg === undefined) throw new SshConfigError(`${where(at)}: Match ${name} needs an argument`);
    criteria.push({ name, negated, arg });
    i += 1;
  }
  if (criteria.some((c) => c.name === 'all') && criteria.some((c) => !BARE_CRITERIA.has(c.name))) {
    throw new SshConfigError(`${where(at)}: "Match all" cannot be combined with other criteria`);
  }
  return criteria;
}

/**
 * Splits a value into arguments like OpenSSH's argv_split(): whitespace
 * separates; "double" or 'single' quotes group; a backslash escapes a quote,
 * a backslash or whitespace; an argument starting with `#` ends the line.
 */
export function splitArgs(text: string, at: ConfigLocation): string[] {
  const args: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i += 1;
    if (i >= text.length || text[i] === '#') break;
    let arg = '';
    let quote: string | undefined;
    for (; i < text.length; i += 1) {
      const c = text[i];
      const next = text[i + 1];
      if (c === '\\' && next !== undefined && (next === '\\' || next === '"' || next === "'" || (!quote && /\s/.test(next)))) {
        arg += next;
        i += 1;
      } else if (quote) {
        if (c === quote) quote = undefined;
        else arg += c;
      } else if (c === '"' || c === "'") {
        quote = c;
      } else if (/\s/.test(c)) {
        break;
      } else {
        arg += c;
      }
    }
    if (quote) throw new SshConfigError(`${where(at)}: unterminated ${quote} quote`);
    args.push(arg);
  }
  return args;
}

/**
 * Expands `*` and `?` in any path segment (not [..] classes), in the sorted
 * order of glob(3); hidden entries only for patterns that start with a dot.
 */
async function globPath(path: string): Promise<string[]> {
  const segments = path.split('/').filter((s, i) => s !== '' || i === 0);
  let bases = [segments[0] === '' ? '/' : segments[0]];
  for (const segment of segments.slice(1)) {
    if (!/[*?]/.test(segment)) {
      bases = bases.map((b) => join(b, segment));
      continue;
    }
    const next: string[] = [];
    for (const base of bases) {
      let names: string[];
      try {
        names = await readdir(base);
      } catch {
        continue;
      }
      for (const name of names.sort()) {
        if (name.startsWith('.') && !segment.startsWith('.')) continue;
        if (matchPattern(name, segment)) next.push(join(base, name));
      }
    }
    bases = next;
  }
  return bases;
}

/** FILE:LINE for messages. */
export function where(at: ConfigLocation): string {
  return `${at.file}:${at.line}`;
}
