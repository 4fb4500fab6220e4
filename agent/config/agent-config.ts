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

/** Defaults of CONTRACT.md. */
export const AGENT_DEFAULTS = {
  configPath: '/etc/kvmclone/agent.yaml',
  socket: '/run/kvmclone/agent.sock',
  imageRoots: ['/var/lib/libvirt/images'],
  libvirtUri: 'qemu:///system',
  auditFile: '/var/log/kvmclone/audit.log',
  auditMaxBytes: 64 * 1024 * 1024,
  auditKeep: 8,
} as const;

/** The YAML file's schema (snake_case keys). */
export const agentFileSchema = z.strictObject({
  socket: absolutePathField.optional(),
  /** Read-only, ticket-guarded socket that peer agents pull from (default: peer.sock beside the socket). */
  peer_socket: absolutePathField.optional(),
  /** Octal string, e.g. "0660". */
  socket_mode: z.string().regex(/^0?[0-7]{3}$/, 'must be an octal mode such as "0660"').optional(),
  /** Group (name or numeric id) given access to the socket. */
  socket_group: z.union([z.string().regex(/^[a-z_][a-z0-9_-]*\$?$|^\d+$/, 'must be a group name or id'), z.number().int().nonnegative()]).optional(),
  image_roots: z.array(absolutePathField).min(1, 'at least one images root is required').optional(),
  libvirt_uri: z.string().regex(/^[a-z0-9+]+:\/\/[^\s]*$/, 'must be a libvirt URI such as qemu:///system').optional(),
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
  socketGroup: string | number | undefined;
  imageRoots: string[];
  libvirtUri: string;
  logLevel: (typeof LOG_LEVELS)[number];
  shutdownGraceMs: number;
  /** Directory of backup scratch files. */
  scratchDir: string;
  freezeTimeoutMs: number;
  /** Audit trail: the live file, its rotation size and how many rotated files are kept. */
  audit: { file: string; maxBytes: number; keep: number | 'all' };
}

/** Command-line overrides (CONTRACT.md). */
export interface AgentFlags {
  config?: string;
  socket?: string;
  imagesRoot?: string[];
  libvirtUri?: string;
  auditFile?: string;
}

/** Loads the file (absent default file = defaults), applies flags, validates everything. */
export async function loadAgentOptions(flags: AgentFlags): Promise<AgentOptions> {
  const path = flags.config ?? AGENT_DEFAULTS.configPath;
  const raw = await readYamlFile(path, flags.config !== undefined);
  const file = parseConfig(agentFileSchema, raw, path);
  const overrides = parseConfig(
    agentFileSchema,
    {
      ...(flags.socket !== undefined && { socket: flags.socket }),
      ...(flags.imagesRoot !== undefined && flags.imagesRoot.length > 0 && { image_roots: flags.imagesRoot }),
      ...(flags.libvirtUri !== undefined && { libvirt_uri: flags.libvirtUri }),
      ...(flags.auditFile !== undefined && { audit: { file: flags.auditFile } }),
    },
    'command-line flags',
  );
  const merged = { ...file, ...overrides, audit: { ...file.audit, ...overrides.audit } };
  if (merged.socket_mode !== undefined && (Number.parseInt(merged.socket_mode, 8) & 0o007) !== 0) {
    throw new ConfigError(path, ['socket_mode: the socket must not be accessible to others (last digit must be 0)']);
  }
  return {
    socket: merged.socket ?? AGENT_DEFAULTS.socket,
    peerSocket: merged.peer_socket ?? join(dirname(merged.socket ?? AGENT_DEFAULTS.socket), 'peer.sock'),
    socketMode: merged.socket_mode !== undefined ? Number.parseInt(merged.socket_mode, 8) : 0o660,
    socketGroup: merged.socket_group,
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
  };
}
