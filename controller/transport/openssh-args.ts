/**
 * Command lines for the OpenSSH client: the master, mux control requests and
 * remote commands. Pure functions, so the exact options can be checked with
 * `ssh -G` in a unit test without connecting anywhere.
 *
 * Options given with `-o` on the command line win over every config file
 * ("first obtained value"), which is how strict host-key checking stays on
 * even when a user's config says `StrictHostKeyChecking no`.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { parseHostSpec } from './host-spec.js';
import { SshError, type SshSettings } from './ssh-engine.js';

/**
 * Cipher preference when the settings name none: aes128-gcm first (half the
 * CPU of chacha20-poly1305 on the measured machine, see the README's Performance section),
 * then OpenSSH's own defaults so any server still matches.
 */
export const DEFAULT_CIPHERS: readonly string[] = ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes192-ctr', 'aes256-ctr'];

/** Longest path a unix socket can bind on Linux (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH = 107;
/** ssh binds its control socket at `<ControlPath>.<16 random chars>` first, then links it. */
const CONTROL_TEMP_SUFFIX = 17;

/** Absolute path of executable `name` on PATH, or undefined. */
export function findOnPath(name: string, pathEnv: string | undefined = process.env.PATH): string | undefined {
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here: keep looking
    }
  }
  return undefined;
}

/**
 * Absolute path of the `ssh` binary on PATH, or undefined. The controller uses
 * OpenSSH when this finds one and falls back to the ssh2 engine otherwise.
 */
export function findOpenSsh(pathEnv: string | undefined = process.env.PATH): string | undefined {
  return findOnPath('ssh', pathEnv);
}

/**
 * A path as the value of a `-o Key=value` option. ssh splits option values on
 * whitespace (UserKnownHostsFile takes a list), expands `%` tokens and
 * `${VAR}`: so the value is double-quoted with `%` doubled, and characters
 * that cannot be quoted are refused.
 */
export function sshOptionPath(host: string, what: string, path: string): string {
  // eslint-disable-next-line no-control-regex -- a path with control characters is refused
  if (!isAbsolute(path) || /["\\\x00-\x1f\x7f]/.test(path) || path.includes('${')) {
    throw new SshError('config', host, `${what} must be an absolute path without quotes, backslashes, control characters or "\${": ${JSON.stringify(path)}`);
  }
  return `"${path.replace(/%/g, '%%')}"`;
}

/**
 * Checks a unix socket path used in a forward spec. ssh parses `-L`/`-R`
 * specs on ':' and may expand tokens in them, so only plain absolute paths
 * are accepted, short enough for sun_path.
 */
export function checkSocketPath(host: string, what: string, path: string, reserve = 0, kind: 'forward' | 'config' = 'forward'): void {
  if (!/^\/[A-Za-z0-9._/@+,=-]+$/.test(path) || path.split('/').includes('..')) {
    throw new SshError(kind, host, `${what} must be an absolute path of letters, digits and ._/@+,=- only: ${JSON.stringify(path)}`);
  }
  if (Buffer.byteLength(path) + reserve > MAX_SOCKET_PATH) {
    throw new SshError(kind, host, `${what} is too long for a unix socket (${Buffer.byteLength(path) + reserve} > ${MAX_SOCKET_PATH} bytes): ${path}`);
  }
}

/** Checks the HOST argument: never empty, never something ssh could read as an option. */
export function checkHost(host: string): void {
  // eslint-disable-next-line no-control-regex -- a host name with control characters is refused
  if (host === '' || host.startsWith('-') || /[\s\x00-\x1f\x7f]/.test(host)) {
    throw new SshError('config', host, `not a valid ssh destination: ${JSON.stringify(host)}`);
  }
}

/**
 * HOST (README "SSH": a Host alias, `[user@]host[:port]` or
 * `[user@][v6]:port`) as ssh's argv tail. ssh itself takes no `host:port`
 * (and 9.2 rejects `ssh://[v6]:port`), so a port becomes `-p PORT` — which,
 * like any command-line option, wins over the config's Port — and the host
 * part stays what Host patterns are matched against.
 */
export function destinationArgs(host: string): string[] {
  checkHost(host);
  const spec = parseHostSpec(host);
  if (spec.port === undefined && !host.includes('[')) return ['--', host];
  const port = spec.port === undefined ? [] : ['-p', String(spec.port)];
  return [...port, '--', `${spec.user === undefined ? '' : `${spec.user}@`}${spec.host}`];
}

/** `-F` (a configured but absent file means "no config at all", per SshSettings). */
function configArgs(settings: SshSettings): string[] {
  if (settings.configFile === undefined) return [];
  return ['-F', existsSync(settings.configFile) ? settings.configFile : 'none'];
}

/**
 * Host-key trust kvmctl always forces, whatever a user's config says. Only the
 * known_hosts files decide which key a host may present: never a DNS SSHFP
 * record (VerifyHostKeyDNS), never a program's output (KnownHostsCommand), and
 * a server may not add or rotate keys in those files (UpdateHostKeys).
 */
export const FORCED_TRUST_OPTIONS: readonly string[] = ['StrictHostKeyChecking=yes', 'BatchMode=yes', 'VerifyHostKeyDNS=no', 'UpdateHostKeys=no', 'KnownHostsCommand=none'];

/** Options that decide who we trust and how we authenticate: the same for every process that may connect. */
function trustArgs(settings: SshSettings, host: string): string[] {
  const args = configArgs(settings);
  if (settings.identityFile !== undefined) args.push('-o', `IdentityFile=${sshOptionPath(host, 'identity file', settings.identityFile)}`);
  if (settings.knownHostsFile !== undefined) args.push('-o', `UserKnownHostsFile=${sshOptionPath(host, 'known_hosts file', settings.knownHostsFile)}`);
  for (const option of FORCED_TRUST_OPTIONS) args.push('-o', option);
  return args;
}

/** Connection options a fresh connection would use (ciphers, timeouts). */
function connectionArgs(settings: SshSettings): string[] {
  const ciphers = settings.ciphers.length > 0 ? settings.ciphers : DEFAULT_CIPHERS;
  return [
    '-o',
    `ConnectTimeout=${Math.max(1, Math.ceil(settings.connectTimeoutS))}`,
    '-o',
    `ServerAliveInterval=${Math.max(0, Math.ceil(settings.keepaliveS))}`,
    '-o',
    `Ciphers=${ciphers.join(',')}`,
    // never the user's own LocalForward/RemoteForward/DynamicForward entries
    '-o',
    'ClearAllForwardings=yes',
    '-o',
    'ForkAfterAuthentication=no',
  ];
}

/**
 * The master: authenticates once, then serves mux requests on `controlPath`.
 * `-v` is for the host-key fingerprint and cipher lines (parsed, never shown).
 * `-N`: no session, no remote command — the account may be one that runs no
 * commands at all (a dedicated `kvmclone` user with a nologin shell, allowed
 * stream-local forwarding only). ControlPersist=no keeps it our child process;
 * masterCommand ties its life to ours.
 *
 * With `persist` (ssh.persist, openssh-persist.ts) the master outlives us
 * instead: ssh forks it into the background once authenticated (the process
 * we started then exits 0), it ends itself `seconds` after its last client,
 * and it logs to `logPath` (`-E`), since no pipe of ours outlives us.
 */
export function masterArgs(settings: SshSettings, host: string, controlPath: string, persist?: { seconds: number; logPath: string }): string[] {
  const lifetime = persist === undefined ? ['-o', 'ControlPersist=no'] : ['-o', `ControlPersist=${Math.max(1, Math.ceil(persist.seconds))}`, '-E', persist.logPath];
  return [
    ...trustArgs(settings, host),
    ...connectionArgs(settings),
    '-o',
    'ExitOnForwardFailure=yes',
    '-o',
    'ControlMaster=yes',
    '-o',
    `ControlPath=${sshOptionPath(host, 'control path', controlPath)}`,
    ...lifetime,
    '-o',
    'StreamLocalBindUnlink=no',
    '-o',
    'StreamLocalBindMask=0177',
    '-v',
    '-N',
    '-T',
    ...destinationArgs(host),
  ];
}

/**
 * The program and arguments that start a master. With util-linux `setpriv`
 * on PATH the master runs under `setpriv --pdeathsig TERM`: the kernel sends
 * it SIGTERM when kvmctl dies, even by SIGKILL (no exit hook runs then), so
 * no orphaned connection holds forwards open. Without setpriv only kvmctl's
 * exit hook reaps it. (The master no longer ties its life to a remote `cat`
 * reading our stdin: that needs a shell on the host.)
 */
export function masterCommand(
  sshPath: string,
  settings: SshSettings,
  host: string,
  controlPath: string,
  setprivPath: string | null = findOnPath('setpriv') ?? null,
): { file: string; args: string[] } {
  const args = masterArgs(settings, host, controlPath);
  if (setprivPath === null) return { file: sshPath, args };
  return { file: setprivPath, args: ['--pdeathsig', 'TERM', '--', sshPath, ...args] };
}

/**
 * A mux control request (`check`, `forward`, `cancel`, `exit`, `stop`) to the master
 * at `controlPath`. `-F none`: a mux client sends every forward in its
 * options, and a config's LocalForward/RemoteForward for this host would be
 * added to ours; it needs nothing from the config but the control path.
 */
export function muxArgs(host: string, controlPath: string, command: 'check' | 'forward' | 'cancel' | 'exit' | 'stop', spec: string[] = []): string[] {
  return ['-F', 'none', '-o', `ControlPath=${sshOptionPath(host, 'control path', controlPath)}`, '-o', 'ControlMaster=no', '-O', command, ...spec, ...destinationArgs(host)];
}

/**
 * A remote command through the master. If the control socket vanished ssh
 * would silently open a fresh connection; the caller checks the master is
 * alive first, and the trust options here make such a connection exactly as
 * strict as the master's anyway.
 */
export function execArgs(settings: SshSettings, host: string, controlPath: string, command: string, withInput = false): string[] {
  return [
    ...trustArgs(settings, host),
    ...connectionArgs(settings),
    '-o',
    `ControlPath=${sshOptionPath(host, 'control path', controlPath)}`,
    '-o',
    'ControlMaster=no',
    '-T',
    ...(withInput ? [] : ['-n']),
    ...destinationArgs(host),
    command,
  ];
}

/** Checks a control path fits sun_path including ssh's temporary suffix. */
export function checkControlPath(host: string, controlPath: string): void {
  checkSocketPath(host, 'control socket path (under runtimeDir)', controlPath, CONTROL_TEMP_SUFFIX, 'config');
}
