/**
 * kvmctl's configuration: the YAML file (default
 * $XDG_CONFIG_HOME/kvmclone/kvmctl.yaml; absent = defaults) compiled into
 * normalised options, then the global flags on top. Strict like the agent's:
 * unknown keys are errors and every problem is named at once (exit 2).
 * No secret ever lives here: keys come from ssh-agent or key files.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parseConfig, readYamlFile } from '../../shared/config/config-file.js';
import { absolutePathField, durationField, rateField } from '../../shared/config/config-fields.js';

const path = z.string().min(1);

/** Where the agent serves by default (README "The agent"; agent/config/agent-config.ts). */
export const DEFAULT_AGENT_SOCKET = '/run/kvmclone/agent.sock';
/** The agent's default read-only socket: agent-ro.sock beside the admin socket. */
export const DEFAULT_AGENT_RO_SOCKET = '/run/kvmclone/agent-ro.sock';

/** The `retry:` defaults: enough to ride out a 30 s outage (see guaranteedWaitMs in controller/operations/retry/backoff.ts). */
export const DEFAULT_RETRY = { attempts: 6, baseDelayMs: 2000, maxDelayMs: 20_000 } as const;

/** The `replication.grace` default: the timer's minute plus a minute of run time. */
export const DEFAULT_REPLICATION_GRACE_MS = 120_000;

/** The file's schema (snake_case keys, sections of the README's "kvmctl's config file"). */
export const controllerFileSchema = z.strictObject({
  ssh: z
    .strictObject({
      /** auto: OpenSSH when the `ssh` binary is present, else ssh2. */
      engine: z.enum(['auto', 'openssh', 'ssh2']).optional(),
      /** auto: a HOST that is this machine is reached without SSH (one hop fewer); off: always SSH. */
      local: z.enum(['auto', 'off']).optional(),
      connect_timeout: durationField.optional(),
      keepalive: durationField.optional(),
      /** How long an OpenSSH connection stays after a run for the next run to reuse (e.g. 10m); 0 (default): it ends with the run. */
      persist: durationField.optional(),
      ciphers: z
        .array(z.string().regex(/^[a-z0-9@.-]+$/, 'not a cipher name'))
        .min(1)
        .optional(),
      known_hosts: path.optional(),
      config_file: path.optional(),
      identity_file: path.optional(),
    })
    .optional(),
  agent: z
    .strictObject({
      /** The agent's admin socket on the hosts. */
      socket: absolutePathField.optional(),
      /** The agent's read-only socket, used by ls, hosts check and --dry-run. */
      ro_socket: absolutePathField.optional(),
    })
    .optional(),
  transfer: z
    .strictObject({
      /** Disks copied at the same time. */
      concurrency: z.number().int().min(1).max(16).optional(),
      /** Most bytes per second an operation's data leaves its source agent (e.g. "50M"); --bwlimit overrides. */
      bwlimit: rateField.optional(),
      /** Connections a clone reads each file's source over (each its own SSH channel): for long links; default 1. */
      streams: z.number().int().min(1).max(8).optional(),
      /** Data chunks travel zstd-compressed: zstd, auto (where a sample shrinks) or off (default); --compress overrides. */
      compress: z.enum(['off', 'zstd', 'auto']).optional(),
      /** A rate for one way between two hosts (as named on the command line), over `bwlimit`. */
      links: z.array(z.strictObject({ from: z.string().min(1), to: z.string().min(1), bwlimit: rateField })).optional(),
    })
    .optional(),
  retry: z
    .strictObject({
      /**
       * Reconnects in a row (without progress in between) after a dropped SSH
       * connection or a restarted agent during TRANSFER or a sync's hashing,
       * before the run gives up (controller/operations/retry).
       */
      attempts: z.number().int().min(1).max(10).optional(),
      /** Wait before the first reconnect; each next one doubles it (up to max_delay), the random half of it as jitter. */
      base_delay: durationField.optional(),
      max_delay: durationField.optional(),
    })
    .optional(),
  timeouts: z
    .strictObject({
      /** Deadline of each control call (inventory, define, commit). */
      call: durationField.optional(),
      /** Abort a transfer when no byte has moved for this long. */
      no_progress: durationField.optional(),
    })
    .optional(),
  state: z.strictObject({ database: path.optional() }).optional(),
  replication: z
    .strictObject({
      /** Replicas `kvmctl replicate` runs at the same time (each under its VM's locks). */
      concurrency: z.number().int().min(1).max(16).optional(),
      /**
       * How far past its interval a replica's lag may go before it counts as
       * late (status exit 1, an rpo-breached notification): room for the
       * timer's minute and the run's own duration.
       */
      grace: durationField.optional(),
    })
    .optional(),
  notify: z
    .strictObject({
      /** POSTed a JSON body when a replica fails, breaches its RPO or recovers. */
      webhook: z.url({ protocol: /^https?$/, message: 'not an http:// or https:// URL' }).optional(),
      /** Run (no shell) with the same JSON body on stdin. */
      command: z.array(z.string().min(1)).min(1).optional(),
      /** The most one notification may take, retries included; a run never waits longer for it. */
      timeout: durationField.optional(),
    })
    .optional(),
});

/** Compiled controller options. */
export interface ControllerOptions {
  ssh: {
    engine: 'auto' | 'openssh' | 'ssh2';
    /** auto: a HOST that is this machine is reached without SSH (local-host.ts). */
    local: 'auto' | 'off';
    connectTimeoutS: number;
    keepaliveS: number;
    /** Seconds a master stays for the next run (openssh-persist.ts); 0: off. */
    persistS: number;
    ciphers: string[];
    knownHostsFile: string | undefined;
    configFile: string;
    identityFile: string | undefined;
  };
  /** The agent's admin socket on the hosts (every RPC). */
  agentSocket: string;
  /**
   * The agent's read-only socket on the hosts: ls, hosts check and --dry-run
   * need nothing more, so they do not need the admin socket's group. An agent
   * without one (older) is reached on the admin socket instead.
   */
  agentRoSocket: string;
  /** bwlimit: bytes per second, 0 for none; links: per host pair, over it (transfer-rate.ts). */
  transfer: { concurrency: number; bwlimit: number; links: { from: string; to: string; bwlimit: number }[]; compress: 'off' | 'zstd' | 'auto'; streams: number };
  retry: { attempts: number; baseDelayMs: number; maxDelayMs: number };
  timeouts: { callMs: number; noProgressMs: number };
  databasePath: string;
  replication: { concurrency: number; graceMs: number };
  notify: { webhook: string | undefined; command: string[] | undefined; timeoutMs: number };
}

/** Global flags that override the file (README "kvmctl"). */
export interface GlobalFlags {
  config?: string;
  sshConfig?: string;
  knownHosts?: string;
  identity?: string;
  agentSocket?: string;
  agentRoSocket?: string;
  engine?: 'auto' | 'openssh' | 'ssh2';
}

function xdg(variable: 'XDG_CONFIG_HOME' | 'XDG_STATE_HOME', fallback: string): string {
  const value = process.env[variable];
  return value && value.startsWith('/') ? value : join(homedir(), fallback);
}

/** Default config file path. */
export function defaultConfigPath(): string {
  return join(xdg('XDG_CONFIG_HOME', '.config'), 'kvmclone', 'kvmctl.yaml');
}

/** Loads and compiles the controller's options. */
export async function loadControllerOptions(flags: GlobalFlags): Promise<ControllerOptions> {
  const file = flags.config ?? defaultConfigPath();
  const raw = parseConfig(controllerFileSchema, await readYamlFile(file, flags.config !== undefined), file);
  const flagged = parseConfig(
    controllerFileSchema,
    {
      ssh: {
        ...(flags.sshConfig !== undefined && { config_file: flags.sshConfig }),
        ...(flags.knownHosts !== undefined && { known_hosts: flags.knownHosts }),
        ...(flags.identity !== undefined && { identity_file: flags.identity }),
        ...(flags.engine !== undefined && { engine: flags.engine }),
      },
      agent: {
        ...(flags.agentSocket !== undefined && { socket: flags.agentSocket }),
        ...(flags.agentRoSocket !== undefined && { ro_socket: flags.agentRoSocket }),
      },
    },
    'command-line flags',
  );
  const ssh = { ...raw.ssh, ...flagged.ssh };
  return {
    ssh: {
      engine: ssh.engine ?? 'auto',
      local: ssh.local ?? 'auto',
      connectTimeoutS: Math.ceil((ssh.connect_timeout ?? 10_000) / 1000),
      keepaliveS: Math.ceil((ssh.keepalive ?? 15_000) / 1000),
      persistS: Math.ceil((ssh.persist ?? 0) / 1000),
      ciphers: ssh.ciphers ?? ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr'],
      knownHostsFile: ssh.known_hosts,
      configFile: ssh.config_file ?? join(homedir(), '.ssh', 'config'),
      identityFile: ssh.identity_file,
    },
    agentSocket: flagged.agent?.socket ?? raw.agent?.socket ?? DEFAULT_AGENT_SOCKET,
    agentRoSocket: flagged.agent?.ro_socket ?? raw.agent?.ro_socket ?? DEFAULT_AGENT_RO_SOCKET,
    transfer: {
      concurrency: raw.transfer?.concurrency ?? 2,
      bwlimit: raw.transfer?.bwlimit ?? 0,
      links: raw.transfer?.links ?? [],
      compress: raw.transfer?.compress ?? 'off',
      streams: raw.transfer?.streams ?? 1,
    },
    // 6 attempts from 2 s, capped at 20 s: at least 35 s (at most 70 s) of waiting in all, so a 30 s outage is ridden out.
    retry: {
      attempts: raw.retry?.attempts ?? DEFAULT_RETRY.attempts,
      baseDelayMs: raw.retry?.base_delay ?? DEFAULT_RETRY.baseDelayMs,
      maxDelayMs: raw.retry?.max_delay ?? DEFAULT_RETRY.maxDelayMs,
    },
    timeouts: { callMs: raw.timeouts?.call ?? 60_000, noProgressMs: raw.timeouts?.no_progress ?? 120_000 },
    databasePath: raw.state?.database ?? join(xdg('XDG_STATE_HOME', '.local/state'), 'kvmclone', 'history.sqlite'),
    replication: { concurrency: raw.replication?.concurrency ?? 2, graceMs: raw.replication?.grace ?? DEFAULT_REPLICATION_GRACE_MS },
    notify: { webhook: raw.notify?.webhook, command: raw.notify?.command, timeoutMs: raw.notify?.timeout ?? 5000 },
  };
}
