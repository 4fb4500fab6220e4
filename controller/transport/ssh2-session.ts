/**
 * (Worker side.) Opening the ssh2 connection to a host, through its
 * ProxyJump hops: each hop is dialled over a direct-tcpip channel of the
 * previous one, and every hop's host key is checked against known_hosts
 * exactly like the target's. Failures become SshErrors whose kind says what
 * to fix (host key, auth, network, config).
 */
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, CipherAlgorithm, Client as Ssh2Client, ConnectConfig, ServerHostKeyAlgorithm } from 'ssh2';
import type { ResolvedHost } from './host-resolve.js';
import { formatHostPort } from './host-spec.js';
import { checkHostKey, knownKeyTypes, loadKnownHosts, type HostKeyVerdict } from './known-hosts.js';
import { authFailure, planAuth, type AuthPlan } from './ssh2-auth.js';
import { SshError } from './ssh-engine.js';
import { matchPattern } from './ssh-pattern.js';
import type { ConnectInfo, ConnectPlan } from './ssh2-worker-protocol.js';

const require = createRequire(import.meta.url);
/** ssh2's own algorithm tables (not part of its typed API, but stable across 1.x). */
const ALGOS = require('ssh2/lib/protocol/constants.js') as {
  DEFAULT_CIPHER: string[];
  SUPPORTED_CIPHER: string[];
  DEFAULT_SERVER_HOST_KEY: string[];
  SUPPORTED_SERVER_HOST_KEY: string[];
};

/** Whether ssh2 loaded its native crypto binding (sshcrypto.node) for AES-GCM and chacha20-poly1305, rather than its slower fallbacks. */
export function nativeCryptoLoaded(): boolean {
  return (require('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean }).bindingAvailable;
}

/**
 * The cipher list to offer: kvmctl's preference (or ssh2's defaults, which
 * start with aes128-gcm@openssh.com), then the ssh config's Ciphers applied
 * as OpenSSH does (`+` append, `-` remove patterns, `^` prepend, else replace),
 * keeping only what ssh2 implements.
 */
export function cipherList(preferred: readonly string[], configured: string | undefined, host: string): string[] {
  const supported = new Set(ALGOS.SUPPORTED_CIPHER);
  let list = preferred.length > 0 ? [...preferred] : [...ALGOS.DEFAULT_CIPHER];
  if (configured) {
    const mod = configured[0];
    const names = (mod === '+' || mod === '-' || mod === '^' ? configured.slice(1) : configured).split(',').filter(Boolean);
    if (mod === '+') list = [...list, ...names.filter((n) => !list.includes(n))];
    else if (mod === '^') list = [...names, ...list.filter((n) => !names.includes(n))];
    else if (mod === '-') list = list.filter((c) => !names.some((p) => matchPattern(c, p)));
    else list = names;
  }
  const usable = list.filter((c) => supported.has(c));
  if (usable.length === 0) {
    throw new SshError('config', host, `${host}: none of the ciphers ${list.join(',')} is implemented by ssh2 (it has ${ALGOS.SUPPORTED_CIPHER.join(',')})`);
  }
  return usable;
}

/** Host key algorithms with the types known_hosts has for this host first, as ssh orders them, so a known key is the one negotiated. */
function hostKeyAlgorithms(knownTypes: readonly string[]): string[] {
  const first = knownTypes.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  const supported = first.filter((a) => ALGOS.SUPPORTED_SERVER_HOST_KEY.includes(a));
  return [...new Set([...supported, ...ALGOS.DEFAULT_SERVER_HOST_KEY])];
}

/** An established chain: jump connections first, the target last. */
export interface OpenChain {
  readonly clients: readonly Ssh2Client[];
  readonly info: ConnectInfo;
}

/** Connects to plan.target through its hops; on failure closes whatever was opened. */
export async function openChain(plan: ConnectPlan): Promise<OpenChain> {
  const hops = [...plan.target.proxyJump, plan.target];
  // with no key at all ssh2 still connects, so host keys are checked first and auth fails after, as with ssh
  const auth = await Promise.all(hops.map((h) => planAuth(h)));
  const clients: Ssh2Client[] = [];
  let info: ConnectInfo | undefined;
  try {
    for (const [i, hop] of hops.entries()) {
      const previous = clients[i - 1];
      const sock = previous ? await tunnel(previous, hops[i - 1], hop) : undefined;
      const opened = await connectHop(hop, auth[i], cipherList(plan.ciphers, hop.ciphers, hop.spec), sock);
      clients.push(opened.client);
      info = { cipher: opened.cipher, hostKeyFingerprint: opened.fingerprint, nativeCrypto: nativeCryptoLoaded() };
    }
  } catch (err) {
    for (const c of clients.reverse()) c.end();
    throw err;
  }
  return { clients, info: info! };
}

function tunnel(via: Ssh2Client, jump: ResolvedHost, next: ResolvedHost): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    via.forwardOut('127.0.0.1', 0, next.hostName, next.port, (err, channel) => {
      if (err) {
        const where = formatHostPort(next.hostName, next.port);
        reject(new SshError('unreachable', next.spec, `${next.alias} (${where}): jump host ${jump.alias} could not connect to it: ${err.message}`));
      } else resolve(channel);
    });
  });
}

interface OpenedHop {
  readonly client: Ssh2Client;
  readonly cipher: string;
  readonly fingerprint: string;
}

async function connectHop(hop: ResolvedHost, auth: AuthPlan, ciphers: string[], sock: Duplex | undefined): Promise<OpenedHop> {
  const known = await loadKnownHosts([...hop.knownHostsFiles, ...hop.globalKnownHostsFiles]);
  const address = formatHostPort(hop.hostName, hop.port);
  const query = { display: hop.alias, host: hop.hostKeyName, port: hop.port, address };
  const client = new ssh2.Client();
  let verdict: HostKeyVerdict | undefined;
  let cipher = '';
  const methods = [...auth.methods];
  const config: ConnectConfig = {
    host: hop.hostName,
    port: hop.port,
    username: hop.user,
    ...(sock ? { sock } : {}),
    readyTimeout: hop.connectTimeoutS * 1000,
    keepaliveInterval: hop.serverAliveIntervalS * 1000,
    keepaliveCountMax: 3,
    // names checked against ssh2's own tables above; the typed unions lag behind them
    algorithms: {
      cipher: ciphers as CipherAlgorithm[],
      serverHostKey: hostKeyAlgorithms(knownKeyTypes(known, hop.hostKeyName, hop.port)) as ServerHostKeyAlgorithm[],
    },
    hostVerifier: (key: Buffer): boolean => {
      verdict = checkHostKey(known, query, key);
      return verdict.verdict === 'match';
    },
    // one method after another; `false` (ssh2's "no more", missing from its typings) ends with an auth error
    authHandler: (_left, _partial, next) => next(methods.shift() ?? (false as unknown as AnyAuthMethod)),
  };
  return new Promise<OpenedHop>((resolve, reject) => {
    const fail = (err: Error & { level?: string; code?: string }): void => {
      client.removeListener('ready', onReady);
      client.removeListener('close', onClose);
      client.on('error', () => undefined); // late errors of a connection we are abandoning
      client.end();
      reject(classify(hop, address, auth, verdict, err));
    };
    const onReady = (): void => {
      client.removeListener('error', fail);
      client.removeListener('close', onClose);
      // until the worker watches the chain (after the last hop is up), an error must not be an uncaught 'error'
      client.on('error', () => undefined);
      resolve({ client, cipher, fingerprint: verdict?.fingerprint ?? '' });
    };
    const onClose = (): void => fail(new Error('connection closed during the handshake'));
    client.on('handshake', (n) => (cipher = n.cs.cipher));
    client.once('ready', onReady).once('error', fail).once('close', onClose);
    client.connect(config);
  });
}

function classify(hop: ResolvedHost, address: string, auth: AuthPlan, verdict: HostKeyVerdict | undefined, err: Error & { level?: string; code?: string }): SshError {
  const who = `${hop.alias} (${address})`;
  if (verdict && verdict.verdict !== 'match') {
    // a revoked key is as untrustworthy as a changed one: same kind, its own message
    const kind = verdict.verdict === 'unknown' ? 'unknown-host-key' : 'changed-host-key';
    return new SshError(kind, hop.spec, verdict.message, verdict.fingerprint);
  }
  if (err.level === 'client-authentication') return authFailure(hop, auth, 'failed');
  if (err.level === 'client-timeout') return new SshError('unreachable', hop.spec, `${who}: no SSH connection within ${hop.connectTimeoutS} s (ConnectTimeout)`);
  if (err.level === 'client-socket' || err.level === 'client-dns' || err.code) return new SshError('unreachable', hop.spec, `${who}: cannot connect: ${err.message}`);
  return new SshError('other', hop.spec, `${who}: SSH handshake failed: ${err.message}`);
}
