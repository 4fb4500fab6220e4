/**
 * Strict host-key checking for the ssh2 engine, with OpenSSH's known_hosts
 * semantics (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): comma lists of
 * patterns with `*`, `?` and `!negation`, `[host]:port` names for ports other
 * than 22, hashed `|1|salt|hmac` names, and `@revoked` / `@cert-authority`
 * markers. kvmctl only reads these files: it never adds a key and never
 * turns checking off, so an unknown or changed key is always a refusal that
 * names the host, the file and the fingerprint to check out of band.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { matchPatternList } from './ssh-pattern.js';

/** One key line of a known_hosts file. */
export interface KnownHostEntry {
  readonly file: string;
  readonly line: number;
  readonly marker: 'revoked' | 'cert-authority' | undefined;
  /** Either a comma list of patterns, or one hashed name. */
  readonly names: { readonly kind: 'patterns'; readonly list: string } | { readonly kind: 'hashed'; readonly salt: Buffer; readonly hash: Buffer };
  /** Key type as found inside the blob (e.g. ssh-ed25519). */
  readonly keyType: string;
  readonly keyBlob: Buffer;
}

/** The lines of some known_hosts files, plus lines that could not be used (reported, not fatal: ssh skips them too). */
export interface KnownHosts {
  readonly files: readonly string[];
  readonly entries: readonly KnownHostEntry[];
  readonly problems: readonly string[];
}

/** The outcome of checking one offered host key. */
export interface HostKeyVerdict {
  readonly verdict: 'match' | 'unknown' | 'changed' | 'revoked';
  /** OpenSSH form of the offered key: SHA256:base64 without padding. */
  readonly fingerprint: string;
  readonly keyType: string;
  /** The line that decided (match, changed, revoked). */
  readonly entry?: KnownHostEntry;
  /** A sentence for the user (empty for a match). */
  readonly message: string;
}

/** Fingerprint of a public key blob as `ssh-keygen -l` prints it. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type string that starts an SSH public key blob (RFC 4253 §6.6), or undefined if malformed. */
export function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  if (n === 0 || n > 64 || 4 + n > blob.length) return undefined;
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** Parses known_hosts text; `file` is for messages. */
export function parseKnownHosts(text: string, file: string): { entries: KnownHostEntry[]; problems: string[] } {
  const entries: KnownHostEntry[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return void problems.push(`${file}:${i + 1}: unknown marker ${m}`);
    }
    const [hosts, type, b64] = fields;
    if (!hosts || !type || !b64) return void problems.push(`${file}:${i + 1}: expected "[marker] hosts keytype key"`);
    if (/^\d+$/.test(type)) return void problems.push(`${file}:${i + 1}: SSH protocol 1 key ignored`);
    const keyBlob = Buffer.from(b64, 'base64');
    const keyType = blobKeyType(keyBlob);
    if (!keyType || keyBlob.toString('base64').replace(/=+$/, '') !== b64.replace(/=+$/, '')) return void problems.push(`${file}:${i + 1}: key is not valid base64 key data`);
    if (keyType !== type) return void problems.push(`${file}:${i + 1}: key type ${type} does not match the key data (${keyType})`);
    const names = parseNames(hosts);
    if (!names) return void problems.push(`${file}:${i + 1}: malformed hashed host name`);
    entries.push({ file, line: i + 1, marker, names, keyType, keyBlob });
  });
  return { entries, problems };
}

function parseNames(hosts: string): KnownHostEntry['names'] | undefined {
  if (!hosts.startsWith('|')) return { kind: 'patterns', list: hosts };
  const parts = hosts.split('|'); // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return undefined;
  const salt = Buffer.from(parts[2], 'base64');
  const hash = Buffer.from(parts[3], 'base64');
  return salt.length === 20 && hash.length === 20 ? { kind: 'hashed', salt, hash } : undefined;
}

/** Reads known_hosts files; missing files are simply empty (as for ssh). */
export async function loadKnownHosts(files: readonly string[]): Promise<KnownHosts> {
  const entries: KnownHostEntry[] = [];
  const problems: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`${file}: ${(err as Error).message}`);
      continue;
    }
    const parsed = parseKnownHosts(text, file);
    entries.push(...parsed.entries);
    problems.push(...parsed.problems);
  }
  return { files, entries, problems };
}

/** The name known_hosts uses for (host, port): `host`, or `[host]:port` off port 22; lower case. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** Whether an entry's names cover `name` (a negated pattern vetoes the line). */
export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  if (entry.names.kind === 'patterns') return matchPatternList(name, entry.names.list, true) === 1;
  const mac = createHmac('sha1', entry.names.salt).update(name).digest();
  return timingSafeEqual(mac, entry.names.hash);
}

/** Lines that apply to (host, port), in file order. */
export function entriesFor(db: KnownHosts, host: string, port: number): KnownHostEntry[] {
  const name = knownHostsName(host, port);
  return db.entries.filter((e) => entryMatches(e, name));
}

/** What a check is about, for the verdict and its message. */
export interface HostKeyQuery {
  /** How the user named the host (alias), first in messages. */
  readonly display: string;
  /** Name looked up in known_hosts (HostKeyAlias or HostName). */
  readonly host: string;
  readonly port: number;
  /** "169.254.202.2:22", the address actually dialled, for messages. */
  readonly address: string;
}

/**
 * Checks an offered host key: `revoked` if a matching @revoked line has it,
 * `match` if a plain line for the host has it, `changed` if plain lines have
 * other keys of the same type for the host, else `unknown`.
 */
export function checkHostKey(db: KnownHosts, query: HostKeyQuery, keyBlob: Buffer): HostKeyVerdict {
  const fingerprint = fingerprintOf(keyBlob);
  const keyType = blobKeyType(keyBlob) ?? 'unknown';
  const who = `${query.display} (${query.address})`;
  const lines = entriesFor(db, query.host, query.port);
  const files = db.files.length > 0 ? db.files.join(', ') : '(no known_hosts file)';
  const revoked = lines.find((e) => e.marker === 'revoked' && e.keyBlob.equals(keyBlob));
  if (revoked) {
    return {
      verdict: 'revoked',
      fingerprint,
      keyType,
      entry: revoked,
      message: `${who}: host key ${keyType} ${fingerprint} is marked @revoked in ${revoked.file}:${revoked.line}: refusing to connect.`,
    };
  }
  const plain = lines.filter((e) => e.marker === undefined);
  const found = plain.find((e) => e.keyBlob.equals(keyBlob));
  if (found) return { verdict: 'match', fingerprint, keyType, entry: found, message: '' };
  const sameType = plain.find((e) => e.keyType === keyType);
  if (sameType) {
    const name = knownHostsName(query.host, query.port);
    return {
      verdict: 'changed',
      fingerprint,
      keyType,
      entry: sameType,
      message:
        `${who}: WARNING: HOST KEY HAS CHANGED! The host offered ${keyType} ${fingerprint}, but ${sameType.file}:${sameType.line} ` +
        `holds ${fingerprintOf(sameType.keyBlob)} for it. Someone could be intercepting the connection (man-in-the-middle), or the host key was replaced. ` +
        `Refusing to connect. If the change is expected, check the new fingerprint out of band, then remove the old line (ssh-keygen -R '${name}' -f ${sameType.file}) and add the new key.`,
    };
  }
  let note = '';
  const ca = lines.find((e) => e.marker === 'cert-authority');
  const other = plain[0];
  if (ca) note = ` (${ca.file}:${ca.line} is a @cert-authority line for this host, but host certificates are not supported by the ssh2 engine: use the OpenSSH engine)`;
  else if (other) note = ` (${other.file}:${other.line} has a ${other.keyType} key for this host, but the host offered ${keyType})`;
  return {
    verdict: 'unknown',
    fingerprint,
    keyType,
    message: `${who}: host key ${keyType} ${fingerprint} is not in ${files}${note}: refusing to connect. Check the fingerprint out of band and add it with ssh-keyscan or ssh.`,
  };
}

/** Key types known for (host, port) in file order: the engine offers these host key algorithms first, as ssh does. */
export function knownKeyTypes(db: KnownHosts, host: string, port: number): string[] {
  return [
    ...new Set(
      entriesFor(db, host, port)
        .filter((e) => e.marker === undefined)
        .map((e) => e.keyType),
    ),
  ];
}
