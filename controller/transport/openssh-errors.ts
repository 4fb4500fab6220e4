/**
 * What OpenSSH's stderr says, turned into facts and SshError kinds.
 *
 * The master runs with `-v` so that a refused host key can be reported with
 * the fingerprint the server presented (ssh names it only in a debug line),
 * and the negotiated cipher can be checked. Debug lines are parsed here and
 * never shown to the user; everything else is kept, bounded, for diagnostics.
 * The patterns are those OpenSSH 9.2 prints (samples in
 * test/unit/openssh-errors.test.ts, captured from the testbed).
 */
import { SshError, type SshFailureKind } from './ssh-engine.js';

/** Facts gathered from an ssh process's stderr. */
export interface SshStderrFacts {
  /** Lines that are not debug noise (no `debugN:`, version banner, traffic totals), oldest first. */
  readonly lines: readonly string[];
  /** From `debug1: Server host key: TYPE SHA256:…`. */
  readonly hostKey?: { readonly type: string; readonly fingerprint: string };
  /** From `debug1: Connecting to NAME [ADDR] port N.`, as `addr:port` (`[v6]:port`). */
  readonly address?: string;
  /** From `debug1: kex: client->server cipher: NAME …`. */
  readonly cipher?: string;
  /** From `debug1: Authenticating to HOST:PORT as 'USER'`: the account the connection logs in as. */
  readonly user?: string;
}

const NOISE = [/^debug\d: /, /^OpenSSH_[^,]*, /, /^Authenticated to /, /^Transferred: sent /, /^Bytes per second: /];

/**
 * Collects an ssh process's stderr incrementally (chunks may split lines),
 * keeping at most `maxLines` non-debug lines: a master lives for the whole
 * operation and its stderr pipe must be drained without growing forever.
 */
export class SshStderrCollector {
  private partial = '';
  private readonly kept: string[] = [];
  private hostKey?: { type: string; fingerprint: string };
  private address?: string;
  private cipher?: string;
  private user?: string;

  constructor(private readonly maxLines = 200) {}

  /** Feeds a chunk of stderr text. */
  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const part of parts) this.line(part);
  }

  /** The facts so far, including an unterminated last line. */
  facts(): SshStderrFacts {
    const lines = this.partial.trim() === '' || isNoise(this.partial) ? [...this.kept] : [...this.kept, this.partial.replace(/\r$/, '')];
    return { lines, hostKey: this.hostKey, address: this.address, cipher: this.cipher, user: this.user };
  }

  private line(raw: string): void {
    const line = raw.replace(/\r$/, '');
    let m: RegExpExecArray | null;
    if ((m = /^debug1: Server host key: (\S+) (SHA256:[A-Za-z0-9+/=]+)/.exec(line))) {
      this.hostKey = { type: m[1], fingerprint: m[2] };
    } else if ((m = /^debug1: Connecting to \S+ \[([^\]]+)\] port (\d+)\./.exec(line))) {
      const addr = m[1];
      this.address = `${addr.includes(':') ? `[${addr}]` : addr}:${m[2]}`;
    } else if ((m = /^debug1: kex: client->server cipher: (\S+)/.exec(line))) {
      this.cipher = m[1];
    } else if ((m = /^debug1: Authenticating to \S+ as '([^']*)'/.exec(line))) {
      this.user = m[1];
    }
    if (line.trim() === '' || isNoise(line)) return;
    this.kept.push(line);
    if (this.kept.length > this.maxLines) this.kept.splice(0, this.kept.length - this.maxLines);
  }
}

function isNoise(line: string): boolean {
  return NOISE.some((re) => re.test(line));
}

/** Parses a complete stderr text (as captured from a finished ssh). */
export function parseSshStderr(text: string): SshStderrFacts {
  const collector = new SshStderrCollector(Number.MAX_SAFE_INTEGER);
  collector.push(text);
  return collector.facts();
}

const CHANGED = [/REMOTE HOST IDENTIFICATION HAS CHANGED/, /^Host key for .* has changed and you have requested strict checking/];
const UNKNOWN = [/^No \S+ host key is known for /, /^Host key verification failed\./];
const AUTH = [/Permission denied \(/, /Too many authentication failures/];
const CONFIG = [
  /Bad configuration option/,
  /bad configuration options/,
  /^command-line line \d+: /,
  /: line \d+: /,
  /Can't open user config file/,
  /Bad owner or permissions on /,
  /Bad SSH2 cipher spec/,
  /Unable to negotiate with /,
];
const UNREACHABLE = [
  /Connection refused/,
  /Connection timed out/,
  /timed out during banner exchange/,
  /port \d+ timed out/,
  /No route to host/,
  /Network is unreachable/,
  /Could not resolve hostname/,
  /Name or service not known/,
  /Connection reset by peer/,
  /Connection closed by /,
  /kex_exchange_identification: /,
  /^Timeout, server .* not responding/,
  /Broken pipe/,
];

/** The kind of failure that stderr describes; 'other' when nothing known matches. */
export function sshFailureKind(facts: SshStderrFacts): SshFailureKind {
  const mentions = (patterns: readonly RegExp[]): boolean => facts.lines.some((l) => patterns.some((re) => re.test(l)));
  if (mentions(CHANGED)) return 'changed-host-key';
  if (mentions(UNKNOWN)) return 'unknown-host-key';
  if (mentions(AUTH)) return 'auth';
  if (mentions(CONFIG)) return 'config';
  if (mentions(UNREACHABLE)) return 'unreachable';
  return 'other';
}

/** The last few non-debug lines, for a message. */
export function stderrSummary(facts: SshStderrFacts, max = 6): string {
  const lines = facts.lines.filter((l) => !/^@+$/.test(l));
  return lines.slice(-max).join(' | ');
}

/**
 * The SshError for a failed connection attempt to `host`, with a message a
 * user can act on. Host-key failures name the address and the fingerprint
 * the server presented, so it can be checked out of band before trusting it.
 */
export function sshFailure(host: string, facts: SshStderrFacts, fallback = 'ssh exited'): SshError {
  const kind = sshFailureKind(facts);
  const where = facts.address ?? 'its address';
  const key = facts.hostKey ? `${facts.hostKey.type} ${facts.hostKey.fingerprint}` : 'a key (fingerprint not reported)';
  const detail = stderrSummary(facts) || fallback;
  switch (kind) {
    case 'unknown-host-key':
      return new SshError(
        kind,
        host,
        `${host}: host key not known: ${where} presented ${key}, which is in no known_hosts file, and host keys are checked strictly. ` +
          "Verify this fingerprint with the host's administrator, then add the key to known_hosts (or pass --known-hosts).",
        facts.hostKey?.fingerprint,
      );
    case 'changed-host-key': {
      const offending = facts.lines.find((l) => l.startsWith('Offending '));
      return new SshError(
        kind,
        host,
        `${host}: HOST KEY CHANGED: ${where} now presents ${key}, which differs from known_hosts` +
          `${offending ? ` (${offending})` : ''}. Refusing to connect: this may be a man-in-the-middle attack. ` +
          'If the change is expected, remove the old key (ssh-keygen -R) and add the new one after verifying it.',
        facts.hostKey?.fingerprint,
      );
    }
    case 'auth':
      return new SshError(kind, host, `${host}: authentication failed (${detail}); check the user, ssh-agent and identity files`);
    case 'unreachable':
      return new SshError(kind, host, `${host}: cannot reach ${facts.address ?? host}: ${detail}`);
    case 'config':
      return new SshError(kind, host, `${host}: ssh configuration error: ${detail}`);
    default:
      return new SshError(kind, host, `${host}: ssh failed: ${detail}`);
  }
}

/**
 * Whether a mux client's stderr reports a refused request. Needed because
 * `ssh -O cancel` in OpenSSH 9.2 exits 0 even when the master refuses
 * ("mux_client_forward: forwarding request failed: port not forwarded").
 */
export function muxRequestFailed(stderr: string): boolean {
  return /request failed|Control socket connect|mux_client_\w+: /.test(stderr);
}
