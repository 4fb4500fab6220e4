/**
 * What `kvmctl hosts setup` needs to know about a host before it changes
 * anything, gathered with one command: who we are there (root, or sudo), the
 * architecture, the installed kvmclone version and how it compares with the
 * package's, and whether systemd runs the agent.
 */
import type { SshConnection } from '../../transport/ssh-engine.js';
import { failedPrecondition } from '../../../shared/errors.js';
import { AGENT_UNIT } from './setup-plan.js';

/** A host as setup found it. */
export interface HostState {
  /** The login's uid: 0, or a user that runs root's commands through `sudo -n`. */
  readonly uid: number;
  readonly hasSudo: boolean;
  readonly architecture: string;
  /** The installed kvmclone version (dpkg status "ii"), or null. */
  readonly installed: string | null;
  /** How the installed version compares with the package's. */
  readonly order: 'none' | 'older' | 'same' | 'newer';
  /** systemd is the running init (systemctl is-system-running says so). */
  readonly systemd: boolean;
  readonly enabled: boolean;
  readonly active: boolean;
}

/** The probe: key=value lines; $1 is the package's version. Every command may be missing. */
const PROBE = [
  'echo "uid=$(id -u)"',
  'echo "sudo=$(command -v sudo || true)"',
  'echo "arch=$(dpkg --print-architecture 2>/dev/null || true)"',
  `s=$(dpkg-query -W -f='\${db:Status-Abbrev}|\${Version}' kvmclone 2>/dev/null || true); echo "installed=$s"`,
  'v=${s#*|}; o=none',
  'case "$s" in ii*) if dpkg --compare-versions "$v" lt "$1"; then o=older; elif dpkg --compare-versions "$v" eq "$1"; then o=same; else o=newer; fi;; esac',
  'echo "order=$o"',
  'echo "systemd=$(systemctl is-system-running 2>/dev/null || true)"',
  `echo "enabled=$(systemctl is-enabled ${AGENT_UNIT} 2>/dev/null || true)"`,
  `echo "active=$(systemctl is-active ${AGENT_UNIT} 2>/dev/null || true)"`,
].join('\n');

/** Parses the probe's output. */
export function parseProbe(host: string, text: string): HostState {
  const v = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) v.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const uid = Number.parseInt(v.get('uid') ?? '', 10);
  if (!Number.isInteger(uid)) throw failedPrecondition(`${host}: the setup probe did not say who we are (is it a POSIX shell login?): ${text.slice(0, 200)}`);
  const status = v.get('installed') ?? '';
  const installed = status.startsWith('ii') ? (status.split('|')[1] ?? '').trim() : null;
  const order = v.get('order');
  const systemd = v.get('systemd') ?? '';
  return {
    uid,
    hasSudo: (v.get('sudo') ?? '') !== '',
    architecture: v.get('arch') ?? '',
    installed,
    order: order === 'older' || order === 'same' || order === 'newer' ? order : 'none',
    // "degraded" (a unit failed) still runs units; "offline" means no systemd as init
    systemd: ['running', 'degraded', 'starting', 'initializing', 'maintenance'].includes(systemd),
    enabled: v.get('enabled') === 'enabled',
    active: v.get('active') === 'active',
  };
}

/** Runs the probe on the host. */
export async function probeHost(conn: SshConnection, packageVersion: string, signal?: AbortSignal): Promise<HostState> {
  const r = await conn.exec(['sh', '-c', PROBE, 'sh', packageVersion], { signal, timeoutMs: 60_000 });
  if (r.code !== 0) throw failedPrecondition(`${conn.host}: the setup probe failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return parseProbe(conn.host, r.stdout);
}

/** argv that runs as root on the host: as it is for root, through `sudo -n` otherwise. */
export function asRoot(state: HostState, argv: readonly string[]): string[] {
  return state.uid === 0 ? [...argv] : ['sudo', '-n', '--', ...argv];
}
