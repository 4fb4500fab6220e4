/**
 * Which OpenSSH client-config values apply to a host, decided as `ssh` does:
 * lines are evaluated in order, `Host` and `Match` switch the following lines
 * on or off, and the first value obtained for a keyword wins (IdentityFile
 * accumulates). The ssh2 engine must reach the same host, as the same user,
 * with the same keys and known_hosts as `ssh HOST` would — so a line it cannot
 * honour (a `Match exec`, a ProxyCommand) is an error, never skipped.
 *
 * Values come back raw (tokens and `~` not expanded): expansion needs the
 * final HostName, User and Port, which host-spec.ts's resolveHost() knows.
 */
import { type ConfigFile, type ConfigItem, type ConfigLocation, type MatchCriterion, SshConfigError, where } from './ssh-config-read.js';
import { matchHostLine, matchPatternList } from './ssh-pattern.js';

/** Reading files is ssh-config-read.ts; re-exported so callers need one module. */
export { readSshConfig, SshConfigError, type ConfigFile } from './ssh-config-read.js';

/** The settings of one host, first obtained value per keyword, not yet expanded. */
export interface SshHostOptions {
  hostName?: string;
  user?: string;
  port?: number;
  /** All IdentityFile lines that applied, in order. */
  identityFiles: string[];
  identitiesOnly?: boolean;
  identityAgent?: string;
  /** Raw ProxyJump value ("none" already removed: then this stays undefined and proxyJumpNone is set). */
  proxyJump?: string;
  proxyJumpNone?: boolean;
  /** UserKnownHostsFile files (["none"] means none). */
  userKnownHostsFiles?: string[];
  globalKnownHostsFiles?: string[];
  hostKeyAlias?: string;
  /** yes | no | ask | accept-new | off: recorded for messages; kvmctl always checks strictly. */
  strictHostKeyChecking?: string;
  connectTimeoutS?: number;
  serverAliveIntervalS?: number;
  /** Raw Ciphers value, maybe with a +, - or ^ modifier. */
  ciphers?: string;
}

type Handler = (opts: SshHostOptions, args: readonly string[], at: ConfigLocation) => void;

/** Keywords whose first value can only be judged once evaluation is over. */
interface Deferred {
  proxy?: { kind: 'jump' | 'command'; at: ConfigLocation; value: string };
  canonicalize?: { at: ConfigLocation; value: string };
}

/**
 * Evaluates `config` for `host` (the name as typed, without user or port).
 * Throws SshConfigError naming FILE:LINE for bad values and for lines that
 * apply to this host but cannot be honoured by the ssh2 engine.
 */
export function evaluateSshConfig(config: ConfigFile, host: string): SshHostOptions {
  const opts: SshHostOptions = { identityFiles: [] };
  const deferred: Deferred = {};
  evaluateFile(config, host, opts, deferred);
  const { proxy, canonicalize } = deferred;
  if (proxy?.kind === 'command' && proxy.value.toLowerCase() !== 'none') {
    throw new SshConfigError(`${where(proxy.at)}: ProxyCommand is not supported by the ssh2 engine (it applies to ${host}); use ProxyJump, or the OpenSSH engine`);
  }
  if (canonicalize && !['no', 'false'].includes(canonicalize.value.toLowerCase())) {
    throw new SshConfigError(
      `${where(canonicalize.at)}: CanonicalizeHostname ${canonicalize.value} is not supported by the ssh2 engine (it applies to ${host}); use the OpenSSH engine`,
    );
  }
  return opts;
}

function evaluateFile(file: ConfigFile, host: string, opts: SshHostOptions, deferred: Deferred): void {
  let active = true; // lines before the first Host/Match apply to every host
  for (const item of file.items) {
    if (item.kind === 'host') active = matchHostLine(host, item.patterns);
    else if (item.kind === 'match') active = evaluateMatch(item, host, opts);
    else if (!active) continue;
    else if (item.kind === 'include') for (const child of item.files) evaluateFile(child, host, opts, deferred);
    else if (item.keyword === 'proxyjump' || item.keyword === 'proxycommand') {
      const value = item.keyword === 'proxyjump' ? oneArg(item.args, item) : item.args.join(' ');
      if (deferred.proxy) continue; // ProxyJump and ProxyCommand: the first of either wins
      deferred.proxy = { kind: item.keyword === 'proxyjump' ? 'jump' : 'command', at: item, value };
      if (deferred.proxy.kind === 'jump') {
        if (value.toLowerCase() === 'none') opts.proxyJumpNone = true;
        else opts.proxyJump = value;
      }
    } else if (item.keyword === 'canonicalizehostname') {
      deferred.canonicalize ??= { at: item, value: oneArg(item.args, item) };
    } else HANDLERS[item.keyword]?.(opts, item.args, item);
  }
}

function evaluateMatch(item: Extract<ConfigItem, { kind: 'match' }>, host: string, opts: SshHostOptions): boolean {
  // readconf.c: `Match host` sees HostName as obtained so far (%h = the host typed), else the host typed.
  const target = opts.hostName !== undefined ? opts.hostName.replace(/%(%|h)/g, (_, t: string) => (t === 'h' ? host : '%')) : host;
  const unsupported: MatchCriterion[] = [];
  let result = true;
  for (const c of item.criteria) {
    let value: boolean;
    if (c.name === 'all') value = true;
    else if (c.name === 'host') value = matchPatternList(target, c.arg ?? '', true) === 1;
    else {
      unsupported.push(c);
      continue;
    }
    if (c.negated ? value : !value) result = false;
  }
  if (!result) return false; // a supported criterion already rules the block out
  if (unsupported.length > 0) {
    const names = unsupported.map((c) => `${c.negated ? '!' : ''}${c.name}`).join(', ');
    throw new SshConfigError(
      `${where(item)}: "Match ${item.text}" is not supported by the ssh2 engine (criteria ${names}; only "Match all" and "Match host" are), ` +
        `and kvmctl will not guess whether it applies to ${host}: use the OpenSSH engine, or rewrite it with Host or Match host`,
    );
  }
  return true;
}

function oneArg(args: readonly string[], at: ConfigLocation): string {
  if (args.length !== 1) throw new SshConfigError(`${where(at)}: expected one value, got ${args.length}`);
  return args[0];
}

function flag(args: readonly string[], at: ConfigLocation): boolean {
  const v = oneArg(args, at).toLowerCase();
  if (v === 'yes' || v === 'true') return true;
  if (v === 'no' || v === 'false') return false;
  throw new SshConfigError(`${where(at)}: expected yes or no, got "${v}"`);
}

/** OpenSSH time values: seconds, or a sequence like 1m30s (s m h d w); "none" and 0 mean none. */
export function parseTimeS(text: string, at: ConfigLocation): number {
  if (text.toLowerCase() === 'none') return 0;
  const units: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  const parts = /^(?:\d+[smhdwSMHDW]?)+$/.test(text) ? (text.match(/\d+[smhdwSMHDW]?/g) ?? []) : [];
  if (parts.length === 0) throw new SshConfigError(`${where(at)}: "${text}" is not a time (e.g. 10, 30s, 1m)`);
  return parts.reduce((sum, p) => sum + Number.parseInt(p, 10) * units[p.replace(/^\d+/, '').toLowerCase()], 0);
}

function set<K extends keyof SshHostOptions>(opts: SshHostOptions, key: K, value: () => SshHostOptions[K]): void {
  if (opts[key] === undefined) opts[key] = value();
}

/** The keywords that matter for reaching a host; others are valid ssh but irrelevant here, and ignored. */
const HANDLERS: Record<string, Handler> = {
  hostname: (o, a, at) => set(o, 'hostName', () => oneArg(a, at)),
  user: (o, a, at) => set(o, 'user', () => oneArg(a, at)),
  port: (o, a, at) =>
    set(o, 'port', () => {
      const v = oneArg(a, at);
      const n = /^\d{1,5}$/.test(v) ? Number(v) : NaN;
      if (!(n >= 1 && n <= 65535)) throw new SshConfigError(`${where(at)}: bad port "${v}"`);
      return n;
    }),
  identityfile: (o, a, at) => void o.identityFiles.push(oneArg(a, at)),
  identitiesonly: (o, a, at) => set(o, 'identitiesOnly', () => flag(a, at)),
  identityagent: (o, a, at) => set(o, 'identityAgent', () => oneArg(a, at)),
  userknownhostsfile: (o, a, at) => set(o, 'userKnownHostsFiles', () => nonEmpty(a, at)),
  globalknownhostsfile: (o, a, at) => set(o, 'globalKnownHostsFiles', () => nonEmpty(a, at)),
  hostkeyalias: (o, a, at) => set(o, 'hostKeyAlias', () => oneArg(a, at)),
  stricthostkeychecking: (o, a, at) =>
    set(o, 'strictHostKeyChecking', () => {
      const v = oneArg(a, at).toLowerCase();
      if (!['yes', 'no', 'ask', 'accept-new', 'off', 'true', 'false'].includes(v)) throw new SshConfigError(`${where(at)}: bad StrictHostKeyChecking "${v}"`);
      return v;
    }),
  connecttimeout: (o, a, at) => set(o, 'connectTimeoutS', () => parseTimeS(oneArg(a, at), at)),
  serveraliveinterval: (o, a, at) => set(o, 'serverAliveIntervalS', () => parseTimeS(oneArg(a, at), at)),
  ciphers: (o, a, at) => set(o, 'ciphers', () => oneArg(a, at)),
  hashknownhosts: () => undefined, // only affects how ssh writes known_hosts; kvmctl never writes it
  // Ways to widen host-key trust beyond the known_hosts files: inert here, as kvmctl forces them
  // off for OpenSSH too (FORCED_TRUST_OPTIONS). ssh2 looks up no SSHFP records, runs no
  // KnownHostsCommand, and its 'hostkeys' announcements are never written anywhere.
  verifyhostkeydns: () => undefined,
  updatehostkeys: () => undefined,
  knownhostscommand: () => undefined,
};

function nonEmpty(args: readonly string[], at: ConfigLocation): string[] {
  if (args.length === 0) throw new SshConfigError(`${where(at)}: expected at least one file`);
  return [...args];
}
