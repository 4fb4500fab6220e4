/**
 * Whether a HOST names the machine kvmctl runs on, so that its agent is
 * reached through its socket directly and the data path has one SSH hop
 * (the other host's) instead of two.
 *
 * The rule, conservative on purpose — a wrong "yes" would talk to the wrong
 * agent, a wrong "no" only costs a hop:
 * - `local` and `localhost` (no user, no port) are this machine;
 * - otherwise HOST is resolved as ssh would (ssh config: HostName, Port,
 *   User, ProxyJump) and is this machine only when it goes straight to
 *   port 22 (no ProxyJump or ProxyCommand: `localhost:2222` is often a
 *   tunnel to somewhere else) of an address this machine has (a loopback
 *   address, or one of its interfaces' addresses; a name is looked up), and
 *   the login user is the user running kvmctl or kvmctl runs as root (the
 *   socket is then reached with kvmctl's own rights instead of the login
 *   account's).
 * A HOST that cannot be resolved (a config kvmctl cannot read, a name that
 * does not resolve) is not this machine: SSH then reports what is wrong.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces, userInfo } from 'node:os';
import { parseHostSpec } from './host-spec.js';
import { resolveHost } from './host-resolve.js';
import type { SshSettings } from './ssh-engine.js';

/** HOST names that always mean this machine. */
export const LOCAL_NAMES: readonly string[] = ['local', 'localhost'];

/** How long a name lookup may take before the host counts as remote. */
const LOOKUP_MS = 2000;

/** What the decision depends on besides HOST (tests pass their own). */
export interface LocalFacts {
  /** Addresses of this machine's interfaces. */
  addresses: () => readonly string[];
  /** Resolves a name to its addresses (empty when it does not resolve). */
  lookupAll: (name: string) => Promise<readonly string[]>;
  /** The user running kvmctl. */
  user: string;
  uid: number;
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((a) => a.address);
}

async function lookupAll(name: string): Promise<string[]> {
  const timeout = new Promise<never[]>((resolve) => setTimeout(() => resolve([]), LOOKUP_MS).unref());
  const found = lookup(name, { all: true }).then(
    (list) => list.map((a) => a.address),
    () => [],
  );
  return Promise.race([found, timeout]);
}

function defaultFacts(): LocalFacts {
  const info = userInfo();
  return { addresses: interfaceAddresses, lookupAll, user: info.username, uid: info.uid };
}

/** An address that is this machine: loopback, or one of `own`. */
export function isOwnAddress(address: string, own: readonly string[]): boolean {
  const bare = address.replace(/%.*$/, '').toLowerCase();
  if (isIP(bare) === 4 && bare.startsWith('127.')) return true;
  if (bare === '::1' || bare === '::ffff:127.0.0.1') return true;
  return own.some((a) => a.replace(/%.*$/, '').toLowerCase() === bare);
}

/** Whether HOST is this machine (see the module comment for the rule). */
export async function isThisMachine(host: string, settings: SshSettings, facts: Partial<LocalFacts> = {}): Promise<boolean> {
  const f = { ...defaultFacts(), ...facts };
  let spec;
  try {
    spec = parseHostSpec(host);
  } catch {
    return false;
  }
  if (spec.user === undefined && spec.port === undefined && LOCAL_NAMES.includes(spec.host)) return true;
  let resolved;
  try {
    resolved = await resolveHost(host, settings, { localUser: f.user, uid: f.uid });
  } catch {
    return false; // e.g. a ProxyCommand: never this machine
  }
  if (resolved.proxyJump.length > 0 || resolved.port !== 22) return false;
  if (resolved.user !== f.user && f.uid !== 0) return false;
  const own = f.addresses();
  if (isIP(resolved.hostName) !== 0) return isOwnAddress(resolved.hostName, own);
  if (LOCAL_NAMES.includes(resolved.hostName)) return true;
  const addresses = await f.lookupAll(resolved.hostName);
  return addresses.length > 0 && addresses.every((a) => isOwnAddress(a, own));
}
