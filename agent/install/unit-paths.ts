/**
 * Which directories the systemd unit must leave writable for the agent, read
 * from the agent's own configuration. The unit runs with
 * `ProtectSystem=strict`, so a directory agent.yaml names but the unit does not
 * open would make every write there fail with EROFS; keeping this list in one
 * place, derived from the same AgentOptions the agent runs with, is what keeps
 * the two in step.
 */
import { dirname } from 'node:path';
import type { AgentOptions } from '../config/agent-config.js';

/** Where the audit trail is written when the config names no file; the shipped unit's LogsDirectory=kvmclone. */
export const AUDIT_LOG_DIR = '/var/log/kvmclone';

/** Prefixes hidden by the unit's `ProtectHome=yes`: a writable path below one needs `ProtectHome=read-only`. */
export const HOME_PREFIXES: readonly string[] = ['/home', '/root', '/run/user'];

/** One directory the unit must leave writable, and the config key it comes from (written as a comment). */
export interface WritablePath {
  readonly path: string;
  readonly why: string;
}

/**
 * The agent options install-unit reads: a subset of AgentOptions, so tests
 * can pass just these. The read-only socket and the audit file are optional:
 * configurations that have them get their directories opened too, others
 * the default audit directory.
 */
export type UnitPathOptions = Pick<AgentOptions, 'imageRoots' | 'scratchDir' | 'socket' | 'peerSocket'> & {
  readonly roSocket?: string;
  readonly audit?: { readonly file: string };
};

/**
 * Every directory the agent writes to under `options`, first mention kept,
 * duplicates dropped: each image root, the live scratch directory, the
 * directories of its sockets, and the audit log directory.
 */
export function unitWritablePaths(options: UnitPathOptions): WritablePath[] {
  const all: WritablePath[] = [
    ...options.imageRoots.map((path) => ({ path, why: 'image_roots' })),
    { path: options.scratchDir, why: 'live.scratch_dir' },
    { path: dirname(options.socket), why: 'socket (its directory)' },
    ...(options.roSocket !== undefined ? [{ path: dirname(options.roSocket), why: 'ro_socket (its directory)' }] : []),
    { path: dirname(options.peerSocket), why: 'peer_socket (its directory)' },
    { path: options.audit !== undefined ? dirname(options.audit.file) : AUDIT_LOG_DIR, why: 'audit log' },
  ];
  const seen = new Set<string>();
  return all.filter(({ path }) => (seen.has(path) ? false : (seen.add(path), true)));
}

/** True when `path` lies under one of HOME_PREFIXES (hidden by ProtectHome=yes). */
export function underHome(path: string): boolean {
  return HOME_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}
