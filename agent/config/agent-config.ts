/**
 * The agent's configuration: raw (what a YAML file or flags say) compiled
 * into normalised options (durations in ms, mode as a number, paths checked).
 *
 * Precedence: built-in defaults < /etc/kvmclone/agent.yaml (or --config) <
 * command-line flags. Unknown keys are errors, every one named at once.
 */
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { ConfigError, parseConfig, readYamlFile } from '../../shared/config/config-file.js';
import { absolutePathField, byteSizeField, durationField } from '../../shared/config/config-fields.js';
import { LOG_LEVELS } from '../../shared/logger.js';
import { resolveGroupId } from './group-lookup.js';
import { DEFAULT_SOFT_LIMIT_BYTES } from '../memory/memory-governor.js';

/** Defaults (README, "The agent"). */
export const AGENT_DEFAULTS = {
  configPath: '/etc/kvmclone/agent.yaml',
  socket: '/run/kvmclone/agent.sock',
  imageRoots: ['/var/lib/libvirt/images'],
  libvirtUri: 'qemu:///system',
  auditFile: '/var/log/kvmclone/audit.log',
  auditMaxBytes: 64 * 1024 * 1024,
  auditKeep: 8,
  memorySoftLimit: DEFAULT_SOFT_LIMIT_BYTES,
} as const;

const socketMode = z.string().regex(/^0?[0-7]{3}$/, 'must be an octal mode such as "0660"');
const socketGroup = z.union([z.string().regex(/^[a-z_][a-z0-9_-]*\$?$|^\d+$/, 'must be a group name or id'), z.number().int().nonnegative()]);

/** The YAML file's schema (snake_case keys). */
export const agentFileSchema = z.strictObject({
  /** The admin socket: every RPC. */
  socket: absolutePathField.optional(),
  /** The read-only socket: inventory, free space, extents, hashes, digests (default: agent-ro.sock beside the socket). */
  ro_socket: absolutePathField.optional(),
  /** Read-only, ticket-guarded socket that peer agents pull from (default: peer.sock beside the socket). */
  peer_socket: absolutePathField.optional(),
  /** Octal string, e.g. "0660". */
  socket_mode: socketMode.optional(),
  /** Group (name or numeric id) given access to the socket; a name is looked up through NSS (getent). */
  socket_group: socketGroup.optional(),
  /** Mode of the read-only socket (same rules as socket_mode). */
  ro_socket_mode: socketMode.optional(),
  /** Group given access to the read-only socket (e.g. monitoring); a name is looked up through NSS. */
  ro_socket_group: socketGroup.optional(),
  image_roots: z.array(absolutePathField).min(1, 'at least one images root is required').optional(),
  libvirt_uri: z
    .string()
    .regex(/^[a-z0-9+]+:\/\/[^\s]*$/, 'must be a libvirt URI such as qemu:///system')
    .optional(),
  log_level: z.enum(LOG_LEVELS).optional(),
  /** How long SIGTERM waits for calls to finish before cancelling them. */
  shutdown_grace: durationField.optional(),
  /** Live (running-VM) copies. */
  live: z
    .strictObject({
      /** Where backup jobs put their scratch files (default: the first image root). */
      scratch_dir: absolutePathField.optional(),
      /** Longest wait for the guest agent to freeze or thaw the guest's filesystems. */
      freeze_timeout: durationField.optional(),
    })
    .optional(),
  /** Memory under concurrent transfers (agent/memory/memory-governor.ts). */
  memory: z
    .strictObject({
      /** RSS above which dead transfer buffers are collected early, e.g. "164MiB"; at least 64MiB, or "off". */
      soft_limit: z.union([z.literal('off'), byteSizeField.refine((n) => n >= 64 * 1024 * 1024, 'must be at least 64MiB (or "off")')]).optional(),
    })
    .optional(),
  /** The audit trail of mutating calls (agent/audit/audit-log.ts). */
  audit: z
    .strictObject({
      /** The live file; rotated files go beside it. */
      file: absolutePathField.optional(),
      /** Size past which the file is rotated (renamed aside), e.g. "64MiB" or a number of bytes; at least 4KiB. */
      max_size: byteSizeField.refine((n) => n >= 4096, 'must be at least 4KiB').optional(),
      /** Rotated files kept (the oldest beyond are deleted), or "all" to never delete one. */
      keep: z.union([z.number().int().min(1, 'must be at least 1 (or "all")'), z.literal('all')]).optional(),
    })
    .optional(),
});

/** Compiled agent options. */
export interface AgentOptions {
  socket: string;
  peerSocket: string;
  socketMode: number;
  /** Numeric group id of the admin socket (names resolved through NSS at load). */
  socketGroup: number | undefined;
  /** The read-only socket, its mode and group id. */
  roSocket: string;
  roSocketMode: number;
  roSocketGroup: number | undefined;
  imageRoots: string[];
  libvirtUri: string;
  logLevel: (typeof LOG_LEVELS)[number];
  shutdownGraceMs: number;
  /** Directory of backup scratch files. */
  scratchDir: string;
  freezeTimeoutMs: number;
  /** Audit trail: the live file, its rotation size and how many rotated files are kept. */
  audit: { file: string; maxBytes: number; keep: number | 'all' };
  /** RSS above which the memory governor collects dead buffers early; 0 = off. */
  memorySoftLimit: number;
}

/** Command-line overrides (cli-program.ts, kvmclone-agent(8)). */
export interface AgentFlags {
  config?: string;
  socket?: string;
  roSocket?: string;
  imagesRoot?: string[];
  libvirtUri?: string;
  auditFile?: string;
}

/** Default read-only socket: agent-ro.sock in the admin socket's directory. */
export function defaultRoSocket(socket: string): string {
  return join(dirname(socket), 'agent-ro.sock');
}

/** The command-line flags as the file's keys, checked by the same schema. */
function flagOverrides(flags: AgentFlags): z.output<typeof agentFileSchema> {
  return parseConfig(
    agentFileSchema,
    {
      ...(flags.socket !== undefined && { socket: flags.socket }),
      ...(flags.roSocket !== undefined && { ro_socket: flags.roSocket }),
      ...(flags.imagesRoot !== undefined && flags.imagesRoot.length > 0 && { image_roots: flags.imagesRoot }),
      ...(flags.libvirtUri !== undefined && { libvirt_uri: flags.libvirtUri }),
      ...(flags.auditFile !== undefined && { audit: { file: flags.auditFile } }),
    },
    'command-line flags',
  );
}

/** Loads the file (absent default file = defaults), applies flags, validates everything. */
export async function loadAgentOptions(flags: AgentFlags): Promise<AgentOptions> {
  const path = flags.config ?? AGENT_DEFAULTS.configPath;
  const raw = await readYamlFile(path, flags.config !== undefined);
  const file = parseConfig(agentFileSchema, raw, path);
  const overrides = flagOverrides(flags);
  const merged = { ...file, ...overrides, audit: { ...file.audit, ...overrides.audit } };
  const problems: string[] = [];
  for (const key of ['socket_mode', 'ro_socket_mode'] as const) {
    const mode = merged[key];
    if (mode !== undefined && (Number.parseInt(mode, 8) & 0o007) !== 0) problems.push(`${key}: the socket must not be accessible to others (last digit must be 0)`);
  }
  const socket = merged.socket ?? AGENT_DEFAULTS.socket;
  const peerSocket = merged.peer_socket ?? join(dirname(socket), 'peer.sock');
  const roSocket = merged.ro_socket ?? defaultRoSocket(socket);
  if (roSocket === socket) problems.push(`ro_socket: ${roSocket} is also the admin socket; give the read-only socket its own path`);
  if (roSocket === peerSocket) problems.push(`ro_socket: ${roSocket} is also the peer socket; give the read-only socket its own path`);
  const groups = await Promise.all(
    (['socket_group', 'ro_socket_group'] as const).map((key) => {
      const group = merged[key];
      return group === undefined
        ? Promise.resolve(undefined)
        : resolveGroupId(group, key).catch((err: unknown) => {
            problems.push(err instanceof Error ? err.message : String(err));
            return undefined;
          });
    }),
  );
  if (problems.length > 0) throw new ConfigError(path, problems);
  return {
    socket,
    peerSocket,
    socketMode: merged.socket_mode !== undefined ? Number.parseInt(merged.socket_mode, 8) : 0o660,
    socketGroup: groups[0],
    roSocket,
    roSocketMode: merged.ro_socket_mode !== undefined ? Number.parseInt(merged.ro_socket_mode, 8) : 0o660,
    // Whoever may use the admin socket may read too: the read-only socket takes its group unless it has its own.
    roSocketGroup: groups[1] ?? groups[0],
    imageRoots: merged.image_roots ?? [...AGENT_DEFAULTS.imageRoots],
    libvirtUri: merged.libvirt_uri ?? AGENT_DEFAULTS.libvirtUri,
    logLevel: merged.log_level ?? 'info',
    shutdownGraceMs: merged.shutdown_grace ?? 10_000,
    scratchDir: merged.live?.scratch_dir ?? (merged.image_roots ?? AGENT_DEFAULTS.imageRoots)[0] ?? AGENT_DEFAULTS.imageRoots[0],
    freezeTimeoutMs: merged.live?.freeze_timeout ?? 10_000,
    audit: {
      file: merged.audit.file ?? AGENT_DEFAULTS.auditFile,
      maxBytes: merged.audit.max_size ?? AGENT_DEFAULTS.auditMaxBytes,
      keep: merged.audit.keep ?? AGENT_DEFAULTS.auditKeep,
    },
    memorySoftLimit: merged.memory?.soft_limit === 'off' ? 0 : (merged.memory?.soft_limit ?? AGENT_DEFAULTS.memorySoftLimit),
  };
}
