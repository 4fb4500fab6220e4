/**
 * HOST arguments (`[user@]host[:port]`, `[user@][v6addr]:port`, or a Host
 * alias of the ssh config) and their resolution into everything an SSH
 * engine needs to reach the host as `ssh HOST` would: HostName, User, Port,
 * keys, known_hosts files and ProxyJump hops, tokens expanded.
 *
 * HOST is checked strictly before anything else sees it: it ends up in
 * messages, file names and — for the OpenSSH engine — an argv, so no spaces,
 * no leading '-' (it would be an ssh option) and no shell metacharacters.
 */
import { isIP } from 'node:net';
import { SshError } from './ssh-engine.js';

/** A parsed HOST: `host` is what ssh config `Host` patterns are matched against. */
export interface HostSpec {
  /** The text as the user gave it. */
  readonly text: string;
  readonly user?: string;
  /** Host name, address (IPv6 without brackets) or config alias. */
  readonly host: string;
  readonly port?: number;
}

const USER = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
// eslint-disable-next-line no-control-regex -- shell metacharacters and control characters are refused
const META = /[\s;&|<>()$`\\"'*?!{}~#,=\u0000-\u001f\u007f]/;

function bad(text: string, why: string): SshError {
  return new SshError('config', text, `HOST ${JSON.stringify(text)}: ${why}. HOST is a Host alias of the ssh config, [user@]host[:port] or [user@][IPv6]:port`);
}

function parsePort(text: string, port: string): number {
  const n = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!(n >= 1 && n <= 65535)) throw bad(text, `port "${port}" is not a number from 1 to 65535`);
  return n;
}

/**
 * Parses and validates HOST. Throws SshError kind 'config' saying what is
 * wrong (the CLI maps it to exit code 2).
 */
export function parseHostSpec(text: string): HostSpec {
  if (text.length === 0) throw bad(text, 'empty');
  if (text.length > 1024) throw bad(text.slice(0, 40) + '…', 'longer than 1024 characters');
  if (text.startsWith('-')) throw bad(text, "starts with '-', which ssh would take as an option");
  const meta = META.exec(text);
  if (meta) throw bad(text, `contains ${JSON.stringify(meta[0])}, which is not allowed (spaces, quotes and shell metacharacters never are)`);
  const at = text.indexOf('@');
  if (at !== text.lastIndexOf('@')) throw bad(text, "more than one '@'");
  const user = at >= 0 ? text.slice(0, at) : undefined;
  if (user !== undefined && !USER.test(user)) throw bad(text, `user "${user}" is not a valid user name`);
  const rest = at >= 0 ? text.slice(at + 1) : text;
  let host: string;
  let port: number | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) throw bad(text, "'[' without ']'");
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw bad(text, `unexpected "${after}" after ']'`);
      port = parsePort(text, after.slice(1));
    }
    if (isIP(host) !== 6 && !NAME.test(host)) throw bad(text, `"${host}" inside [] is neither an IPv6 address nor a host name`);
  } else if (/[[\]]/.test(rest)) {
    throw bad(text, "'[' and ']' only enclose an IPv6 address");
  } else if ((rest.match(/:/g) ?? []).length > 1) {
    if (isIP(rest) !== 6) throw bad(text, `"${rest}" is not an IPv6 address`);
    host = rest; // a bare IPv6 address: no port possible without brackets
  } else {
    const colon = rest.indexOf(':');
    host = colon >= 0 ? rest.slice(0, colon) : rest;
    if (colon >= 0) port = parsePort(text, rest.slice(colon + 1));
    if (host.includes('%')) throw bad(text, "'%' is only allowed in a bracketed IPv6 address");
  }
  if (host === '') throw bad(text, 'no host name');
  if (isIP(host) === 0 && !NAME.test(host)) throw bad(text, `"${host}" is not a valid host name or alias`);
  return { text, ...(user !== undefined ? { user } : {}), host, ...(port !== undefined ? { port } : {}) };
}

/** `host:port` for messages, with brackets for IPv6. */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** HOST → everything needed to reach it (host-resolve.ts), exported here with the HOST syntax it builds on. */
export { resolveHost, type ResolvedHost, type ResolveEnvironment } from './host-resolve.js';
