/**
 * resolveHost(): HOST + the user's ssh config + kvmctl's settings → one
 * ResolvedHost with every value final and expanded, including the ProxyJump
 * hops (each resolved against the same config, as `ssh -J` does). Engines
 * take this and never read the ssh config themselves, so both reach the
 * same place with the same keys.
 */
import { homedir, hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { parseHostSpec, type HostSpec } from './host-spec.js';
import { evaluateSshConfig, readSshConfig, SshConfigError, type ConfigFile } from './ssh-config.js';
import { SshError, type SshSettings } from './ssh-engine.js';
import { expandPath, expandTilde, expandTokens, TokenError, type TokenContext } from './ssh-tokens.js';

/** Everything needed to connect to one host (or one ProxyJump hop). */
export interface ResolvedHost {
  /** The HOST (or hop) as given. */
  readonly spec: string;
  /** The host part as given: what `Host` patterns matched. */
  readonly alias: string;
  /** Where to connect (HostName, or the alias). */
  readonly hostName: string;
  readonly port: number;
  readonly user: string;
  /** Key files to try in order (the --identity file first); missing ones are skipped at connect time. */
  readonly identityFiles: readonly string[];
  /** Only offer the identity files' keys (agent keys only if they are one of them). */
  readonly identitiesOnly: boolean;
  /** ssh-agent socket, or undefined for none. */
  readonly identityAgent: string | undefined;
  /** User known_hosts files (the --known-hosts file replaces them). */
  readonly knownHostsFiles: readonly string[];
  /** System-wide known_hosts files, consulted too. */
  readonly globalKnownHostsFiles: readonly string[];
  /** Name under which the host key is looked up in known_hosts (HostKeyAlias, else hostName). */
  readonly hostKeyName: string;
  /** Hops to go through, first hop first; each hop's own proxyJump is empty (already flattened here). */
  readonly proxyJump: readonly ResolvedHost[];
  readonly connectTimeoutS: number;
  /** ServerAliveInterval, else the settings' keepalive (0 = off). */
  readonly serverAliveIntervalS: number;
  /** Raw Ciphers of the ssh config (maybe +, -, ^ modified), applied by the engine over its own list. */
  readonly ciphers: string | undefined;
  /** The config's StrictHostKeyChecking (informational: checking is always strict). */
  readonly strictHostKeyChecking: string;
}

/** The local facts resolution depends on; defaults come from the process (tests pass their own). */
export interface ResolveEnvironment {
  home: string;
  localUser: string;
  localHostName: string;
  uid: number;
  env: NodeJS.ProcessEnv;
}

const MAX_HOPS = 8;
const DEFAULT_IDENTITIES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'];

function defaultEnvironment(): ResolveEnvironment {
  const info = userInfo();
  return { home: homedir(), localUser: info.username, localHostName: hostname(), uid: info.uid, env: process.env };
}

/**
 * Resolves HOST like ssh: the ssh config (settings.configFile, default
 * ~/.ssh/config; absent = none) evaluated for the host part, user and port
 * from HOST winning over the config, tokens and `~` expanded. Throws SshError
 * kind 'config' (bad HOST, bad or unsupported config line, ProxyJump loop).
 */
export async function resolveHost(spec: string, settings: SshSettings, environment: Partial<ResolveEnvironment> = {}): Promise<ResolvedHost> {
  const env = { ...defaultEnvironment(), ...environment };
  const parsed = parseHostSpec(spec);
  const configFile = settings.configFile ?? join(env.home, '.ssh', 'config');
  let config: ConfigFile;
  try {
    config = await readSshConfig(expandTilde(configFile, env.home, env.localUser), env.home);
  } catch (err) {
    throw asConfigError(spec, err);
  }
  return resolveSpec(parsed, config, settings, env, 0, true);
}

function asConfigError(host: string, err: unknown): unknown {
  if (err instanceof SshConfigError || err instanceof TokenError) return new SshError('config', host, `${host}: ${err.message}`);
  return err;
}

function resolveSpec(spec: HostSpec, config: ConfigFile, settings: SshSettings, env: ResolveEnvironment, depth: number, withJumps: boolean): ResolvedHost {
  try {
    const opts = evaluateSshConfig(config, spec.host);
    const hostName = opts.hostName !== undefined ? expandTokens(opts.hostName, { ...ctx(env, {}), tokens: { h: spec.host } }, false) : spec.host;
    // eslint-disable-next-line no-control-regex -- ssh -G's HostName with control characters is refused
    if (hostName === '' || /[\s\u0000-\u001f]/.test(hostName)) throw new TokenError(`HostName "${hostName}" is not a host name`);
    const user = spec.user ?? opts.user ?? env.localUser;
    const port = spec.port ?? opts.port ?? 22;
    const tokens = {
      d: env.home,
      u: env.localUser,
      i: String(env.uid),
      l: env.localHostName,
      L: env.localHostName.split('.')[0] ?? env.localHostName,
      h: hostName,
      n: spec.host,
      p: String(port),
      r: user,
      k: opts.hostKeyAlias ?? spec.host,
      j: opts.proxyJump ?? '',
    };
    const c = ctx(env, tokens);
    const own = opts.identityFiles.map((f) => resolve(expandPath(f, c)));
    const extra = settings.identityFile ? [resolve(expandTilde(settings.identityFile, env.home, env.localUser))] : [];
    const identities = extra.length + own.length > 0 ? [...extra, ...own] : DEFAULT_IDENTITIES.map((n) => join(env.home, '.ssh', n));
    const userFiles = settings.knownHostsFile
      ? [resolve(expandTilde(settings.knownHostsFile, env.home, env.localUser))]
      : (opts.userKnownHostsFiles ?? ['~/.ssh/known_hosts', '~/.ssh/known_hosts2']).filter((f) => f !== 'none').map((f) => resolve(expandPath(f, c)));
    const globalFiles = (opts.globalKnownHostsFiles ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'])
      .filter((f) => f !== 'none')
      .map((f) => resolve(expandTilde(f, env.home, env.localUser)));
    const resolved: ResolvedHost = {
      spec: spec.text,
      alias: spec.host,
      hostName,
      port,
      user,
      identityFiles: [...new Set(identities)],
      identitiesOnly: opts.identitiesOnly ?? false,
      identityAgent: identityAgent(opts.identityAgent, c),
      knownHostsFiles: userFiles,
      globalKnownHostsFiles: globalFiles,
      hostKeyName: opts.hostKeyAlias ?? hostName,
      proxyJump: [],
      connectTimeoutS: opts.connectTimeoutS || settings.connectTimeoutS,
      serverAliveIntervalS: opts.serverAliveIntervalS ?? settings.keepaliveS,
      ciphers: opts.ciphers,
      strictHostKeyChecking: opts.strictHostKeyChecking ?? 'ask',
    };
    if (!withJumps || opts.proxyJump === undefined) return resolved;
    return { ...resolved, proxyJump: resolveJumps(opts.proxyJump, config, settings, env, depth) };
  } catch (err) {
    throw asConfigError(spec.text, err);
  }
}

/**
 * ProxyJump "a,b" means: reach b through a, then the target through b. As
 * with `ssh -J`, a's own ProxyJump applies (it is reached like `ssh a`) but
 * b's does not (the list says how b is reached).
 */
function resolveJumps(value: string, config: ConfigFile, settings: SshSettings, env: ResolveEnvironment, depth: number): ResolvedHost[] {
  if (depth + 1 > MAX_HOPS) throw new TokenError(`ProxyJump chain deeper than ${MAX_HOPS} hops (a loop in the ssh config?)`);
  const hops = value.split(',').map((h) => parseHostSpec(h.replace(/^ssh:\/\//, '')));
  const [first, ...rest] = hops;
  if (!first) throw new TokenError('empty ProxyJump');
  const head = resolveSpec(first, config, settings, env, depth + 1, true);
  const chain = [...head.proxyJump, { ...head, proxyJump: [] }, ...rest.map((h) => resolveSpec(h, config, settings, env, depth + 1, false))];
  if (chain.length > MAX_HOPS) throw new TokenError(`ProxyJump chain longer than ${MAX_HOPS} hops`);
  return chain;
}

function identityAgent(raw: string | undefined, c: TokenContext): string | undefined {
  if (raw === undefined || raw === 'SSH_AUTH_SOCK') return c.env.SSH_AUTH_SOCK || undefined;
  if (raw === 'none') return undefined;
  if (raw.startsWith('$') && !raw.startsWith('${')) return c.env[raw.slice(1)] || undefined;
  return resolve(expandPath(raw, c));
}

function ctx(env: ResolveEnvironment, tokens: Record<string, string>): TokenContext {
  return { home: env.home, localUser: env.localUser, tokens, env: env.env };
}
