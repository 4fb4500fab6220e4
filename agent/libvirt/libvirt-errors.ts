/**
 * Libvirt failures, recognised in one place (as kubevirt's virtwrap/errors).
 *
 * Two sources: `@unraid/libvirt` rejects with a LibvirtError whose `code` is
 * always -1 (its native layer passes only libvirt's message string), and
 * `virsh` exits non-zero with `error: ...` lines on stderr. Either way the
 * message starts with libvirt's own text for the error number (virerror.c's
 * table: "Domain not found: ...", "Requested operation is not valid: ..."),
 * so the number is recovered from that prefix when no usable code came along.
 * Messages are English: the agent runs virsh with LC_ALL=C and libvirtd under
 * systemd speaks C.
 *
 * `libvirtFailure` turns any of these into the KvmcloneError a client should
 * see, or hands back the original error for INTERNAL. The shapes the
 * failures arrive in are read by libvirt-error-shapes.ts.
 */
import { CommandError } from '../process/run-command.js';
import { KvmcloneError, isAbortError, type ErrorCode } from '../../shared/errors.js';
import { CHECKPOINT_EXISTS, CONNECTION_LOST, isBindingError, libvirtCause, virshErrorLines } from './libvirt-error-shapes.js';

/** libvirt's virErrorNumber values that kvmclone tells apart (include/libvirt/virterror.h). */
export const VIR_ERR = {
  INTERNAL_ERROR: 1,
  NO_SUPPORT: 3,
  NO_CONNECT: 5,
  INVALID_CONN: 6,
  INVALID_ARG: 8,
  OPERATION_FAILED: 9,
  XML_ERROR: 27,
  DOM_EXIST: 28,
  OPERATION_DENIED: 29,
  XML_DETAIL: 35,
  SYSTEM_ERROR: 38,
  RPC: 39,
  NO_DOMAIN: 42,
  NO_STORAGE_POOL: 49,
  NO_STORAGE_VOL: 50,
  OPERATION_INVALID: 55,
  NO_SECRET: 66,
  CONFIG_UNSUPPORTED: 67,
  OPERATION_TIMEOUT: 68,
  ARGUMENT_UNSUPPORTED: 74,
  OPERATION_UNSUPPORTED: 84,
  AGENT_UNRESPONSIVE: 86,
  RESOURCE_BUSY: 87,
  ACCESS_DENIED: 88,
  CPU_INCOMPATIBLE: 91,
  XML_INVALID_SCHEMA: 92,
  AGENT_UNSYNCED: 97,
  INVALID_DOMAIN_CHECKPOINT: 102,
  NO_DOMAIN_CHECKPOINT: 103,
  NO_DOMAIN_BACKUP: 104,
  CHECKPOINT_INCONSISTENT: 109,
} as const;

/** Message prefixes from libvirt's virErrorMsgStrings table, most specific first. */
const MESSAGE_PREFIXES: ReadonlyArray<readonly [RegExp, number]> = [
  [/^Domain not found\b/, VIR_ERR.NO_DOMAIN],
  [/^Secret not found\b/, VIR_ERR.NO_SECRET],
  [/^Storage pool not found\b/, VIR_ERR.NO_STORAGE_POOL],
  [/^Storage volume not found\b/, VIR_ERR.NO_STORAGE_VOL],
  [/^Domain checkpoint not found\b/, VIR_ERR.NO_DOMAIN_CHECKPOINT],
  [/^Invalid domain checkpoint\b/, VIR_ERR.INVALID_DOMAIN_CHECKPOINT],
  [/^Domain backup job id not found\b/, VIR_ERR.NO_DOMAIN_BACKUP],
  [/^checkpoint inconsistent\b/, VIR_ERR.CHECKPOINT_INCONSISTENT],
  [/^Guest agent is not responding\b/, VIR_ERR.AGENT_UNRESPONSIVE],
  [/^guest agent replied with wrong id\b/, VIR_ERR.AGENT_UNSYNCED],
  [/^Requested operation is not valid\b/, VIR_ERR.OPERATION_INVALID],
  [/^XML error: |^XML description is invalid or not well formed/, VIR_ERR.XML_ERROR],
  // XML_DETAIL has no prefix of its own: it is libxml2's "(name):line: message"
  [/^\([\w.-]+\):\d+: /, VIR_ERR.XML_DETAIL],
  [/^XML document failed to validate against schema/, VIR_ERR.XML_INVALID_SCHEMA],
  [/^this domain exists already|^domain .* exists already$/, VIR_ERR.DOM_EXIST],
  [/^operation failed\b/, VIR_ERR.OPERATION_FAILED],
  [/^operation forbidden\b/, VIR_ERR.OPERATION_DENIED],
  [/^access denied\b/, VIR_ERR.ACCESS_DENIED],
  [/^invalid argument\b/, VIR_ERR.INVALID_ARG],
  [/^unsupported configuration\b/, VIR_ERR.CONFIG_UNSUPPORTED],
  [/^argument unsupported\b/, VIR_ERR.ARGUMENT_UNSUPPORTED],
  [/^Operation not supported\b/, VIR_ERR.OPERATION_UNSUPPORTED],
  [/^this function is not supported by the connection driver/, VIR_ERR.NO_SUPPORT],
  [/^Timed out during operation\b/, VIR_ERR.OPERATION_TIMEOUT],
  [/^resource busy\b/, VIR_ERR.RESOURCE_BUSY],
  [/^the CPU is incompatible with host CPU/, VIR_ERR.CPU_INCOMPATIBLE],
  [/^no connection driver available\b/, VIR_ERR.NO_CONNECT],
  [/^invalid connection pointer in\b/, VIR_ERR.INVALID_CONN],
  [/^internal error\b/, VIR_ERR.INTERNAL_ERROR],
  // virsh's own context lines, when libvirt's line is missing (a failed lookup prints only this)
  [/^failed to get domain\b/, VIR_ERR.NO_DOMAIN],
  [/^failed to get pool\b/, VIR_ERR.NO_STORAGE_POOL],
  [/^failed to connect to the hypervisor/, VIR_ERR.NO_CONNECT],
];

/** A libvirt failure reduced to what matters: libvirt's error number (when known) and its message. */
export interface LibvirtFailureInfo {
  code: number | undefined;
  message: string;
}

function codeFromMessage(message: string): number | undefined {
  return MESSAGE_PREFIXES.find(([re]) => re.test(message))?.[1];
}

/** Reads a binding or virsh failure; undefined for anything else (programming errors, fs errors, aborts). */
export function libvirtFailureInfo(err: unknown): LibvirtFailureInfo | undefined {
  if (isBindingError(err)) {
    return { code: err.code > 0 ? err.code : codeFromMessage(err.message), message: err.message };
  }
  if (err instanceof CommandError && err.program === 'virsh') {
    const lines = virshErrorLines(err.stderr);
    const message = lines.length > 0 ? lines.join(': ') : err.stderr;
    // libvirt's line (last) is the precise one; virsh's context line is the fallback
    const code = [...lines]
      .reverse()
      .map(codeFromMessage)
      .find((c) => c !== undefined);
    return { code, message };
  }
  return undefined;
}

function has(err: unknown, ...codes: number[]): boolean {
  const info = libvirtFailureInfo(err);
  return info?.code !== undefined && codes.includes(info.code);
}

/** No such domain (VIR_ERR_NO_DOMAIN). */
export const isNoDomain = (err: unknown): boolean => has(err, VIR_ERR.NO_DOMAIN);
/** No such storage pool (VIR_ERR_NO_STORAGE_POOL). */
export const isNoStoragePool = (err: unknown): boolean => has(err, VIR_ERR.NO_STORAGE_POOL);
/** The domain is not in a state for this (not running, already running, has snapshots...). */
export const isOperationInvalid = (err: unknown): boolean => has(err, VIR_ERR.OPERATION_INVALID);
/** The XML was refused: malformed, invalid, or asking for something unsupported. */
export const isXmlError = (err: unknown): boolean => has(err, VIR_ERR.XML_ERROR, VIR_ERR.XML_DETAIL, VIR_ERR.XML_INVALID_SCHEMA, VIR_ERR.CONFIG_UNSUPPORTED, VIR_ERR.INVALID_ARG);

/**
 * Another domain already has this name or UUID. libvirt says so with
 * VIR_ERR_DOM_EXIST, or, when defining, with VIR_ERR_OPERATION_FAILED
 * "domain 'x' already exists with uuid ..." / "... is already defined with uuid ...".
 */
export function isDomainExists(err: unknown): boolean {
  if (has(err, VIR_ERR.DOM_EXIST)) return true;
  const message = libvirtFailureInfo(err)?.message ?? '';
  return has(err, VIR_ERR.OPERATION_FAILED) && /already (exists|defined)/.test(message) && !CHECKPOINT_EXISTS.test(message);
}

/** libvirtd cannot be reached, or the connection to it was lost (it restarted). */
export function isConnectionError(err: unknown): boolean {
  const info = libvirtFailureInfo(err);
  if (!info) return false;
  if (info.code === VIR_ERR.NO_CONNECT || info.code === VIR_ERR.INVALID_CONN) return true;
  return CONNECTION_LOST.test(info.message);
}

// --- Backup jobs, checkpoints and the guest agent (live clone and sync). ---
// These predicates also see through the KvmcloneError the port throws (its `cause`),
// so callers of the port can test what they caught.

function hasThrough(err: unknown, codes: readonly number[], text?: RegExp): boolean {
  const cause = libvirtCause(err);
  if (!has(cause, ...codes)) return false;
  return text === undefined || text.test(libvirtFailureInfo(cause)?.message ?? '');
}

/** libvirtd cannot be reached or the connection dropped, also when wrapped in the KvmcloneError the port throws. */
export const isLibvirtdGone = (err: unknown): boolean => isConnectionError(libvirtCause(err));

/** No secret with that UUID (VIR_ERR_NO_SECRET). */
export const isNoSecret = (err: unknown): boolean => hasThrough(err, [VIR_ERR.NO_SECRET]);

/** No checkpoint of that name (VIR_ERR_NO_DOMAIN_CHECKPOINT), also for the base of an incremental backup. */
export const isNoCheckpoint = (err: unknown): boolean => hasThrough(err, [VIR_ERR.NO_DOMAIN_CHECKPOINT]);

/**
 * The checkpoint's bitmaps are missing or broken, so it cannot be the base of
 * an incremental backup: VIR_ERR_CHECKPOINT_INCONSISTENT ("missing or broken
 * bitmap 'X' for disk 'vdb'", after QEMU stopped uncleanly or on a redefine
 * with validation), or libvirt 9.0's internal error when such a checkpoint is
 * deleted with its data ("bitmap 'X' not found in backing chain of 'vdb'").
 * The way out: delete it metadata-only and start over with a full backup.
 */
export const isCheckpointInconsistent = (err: unknown): boolean =>
  hasThrough(err, [VIR_ERR.CHECKPOINT_INCONSISTENT]) || hasThrough(err, [VIR_ERR.INTERNAL_ERROR], /bitmap '[^']*' not found in backing chain/);

/** A checkpoint (or snapshot) of that name exists already. */
export const isCheckpointExists = (err: unknown): boolean => hasThrough(err, [VIR_ERR.OPERATION_FAILED], CHECKPOINT_EXISTS);

/** A disk cannot carry a checkpoint: libvirt 9.0 keeps dirty bitmaps in qcow2 only ("checkpoint for disk vdc unsupported for storage type raw"). */
export const isCheckpointUnsupported = (err: unknown): boolean => hasThrough(err, [VIR_ERR.CONFIG_UNSUPPORTED], /checkpoint for disk \S+ unsupported/);

/** The domain has no backup job (VIR_ERR_NO_DOMAIN_BACKUP, "no domain backup job present"). */
export const isNoBackupJob = (err: unknown): boolean => hasThrough(err, [VIR_ERR.NO_DOMAIN_BACKUP]);

/** A backup's scratch file exists already ("store 'PATH' for backup of 'vdb' exists"): libvirt creates it and never reuses one. */
export const isBackupScratchExists = (err: unknown): boolean => hasThrough(err, [VIR_ERR.INVALID_ARG], /store '.*' for backup of '.*' exists/);

/** No job runs on the domain ("no job is active on the domain"), e.g. for an abort. */
export const isNoActiveJob = (err: unknown): boolean => hasThrough(err, [VIR_ERR.OPERATION_INVALID], /no job is active on the domain/);

/**
 * The domain is not running, so what needs QEMU cannot be done: "domain is
 * not running" (sizes, freezes, validation, job queries) or, from libvirt
 * 9.0's backup and checkpoint calls, "cannot perform disk backup for inactive
 * domain", "cannot create/delete checkpoint for inactive domain".
 */
export const isDomainNotRunning = (err: unknown): boolean =>
  hasThrough(err, [VIR_ERR.OPERATION_INVALID], /domain is not running/) || hasThrough(err, [VIR_ERR.OPERATION_UNSUPPORTED], /for inactive domain/);

/**
 * The guest agent cannot freeze or thaw: the domain has no agent channel
 * ("argument unsupported: QEMU guest agent is not configured"), the agent is
 * not running in the guest ("Guest agent is not responding: QEMU guest agent
 * is not connected"), or it does not answer. The copy is then
 * crash-consistent.
 */
export const isGuestAgentUnavailable = (err: unknown): boolean =>
  hasThrough(err, [VIR_ERR.AGENT_UNRESPONSIVE, VIR_ERR.AGENT_UNSYNCED]) || hasThrough(err, [VIR_ERR.ARGUMENT_UNSUPPORTED], /guest agent is not configured/);

const CODE_OF: ReadonlyArray<readonly [(err: unknown) => boolean, ErrorCode]> = [
  [isConnectionError, 'UNAVAILABLE'],
  [isNoDomain, 'NOT_FOUND'],
  [isNoStoragePool, 'NOT_FOUND'],
  [isNoSecret, 'NOT_FOUND'],
  [(e) => has(e, VIR_ERR.NO_STORAGE_VOL), 'NOT_FOUND'],
  [isDomainExists, 'ALREADY_EXISTS'],
  [isNoCheckpoint, 'NOT_FOUND'],
  [isNoBackupJob, 'NOT_FOUND'],
  [isCheckpointExists, 'ALREADY_EXISTS'],
  [isBackupScratchExists, 'ALREADY_EXISTS'],
  [isCheckpointInconsistent, 'FAILED_PRECONDITION'],
  [isCheckpointUnsupported, 'FAILED_PRECONDITION'],
  [isGuestAgentUnavailable, 'FAILED_PRECONDITION'],
  [(e) => has(e, VIR_ERR.INVALID_DOMAIN_CHECKPOINT), 'INVALID_ARGUMENT'],
  [isXmlError, 'INVALID_ARGUMENT'],
  [isOperationInvalid, 'FAILED_PRECONDITION'],
  [(e) => has(e, VIR_ERR.OPERATION_FAILED, VIR_ERR.CPU_INCOMPATIBLE, VIR_ERR.NO_SUPPORT, VIR_ERR.OPERATION_UNSUPPORTED, VIR_ERR.ARGUMENT_UNSUPPORTED), 'FAILED_PRECONDITION'],
  [(e) => has(e, VIR_ERR.OPERATION_TIMEOUT, VIR_ERR.RESOURCE_BUSY), 'ABORTED'],
  [(e) => has(e, VIR_ERR.ACCESS_DENIED, VIR_ERR.OPERATION_DENIED), 'PERMISSION_DENIED'],
];

/**
 * The error to throw for a failed libvirt call: a KvmcloneError with the
 * matching code and libvirt's message (prefixed with what was being done), or
 * the original error when the failure is not one a client can act on — it
 * then becomes INTERNAL, logged in full. Aborts and KvmcloneErrors pass
 * through unchanged.
 * @param doing what the call was, for the message: "start domain 'vm1'"
 */
export function libvirtFailure(err: unknown, doing: string): unknown {
  if (err instanceof KvmcloneError || isAbortError(err)) return err;
  const info = libvirtFailureInfo(err);
  if (!info) return err;
  // Any other refusal from libvirt (a start that cannot open a log file, a missing emulator, ...) is
  // libvirt saying no, with a message written for operators: pass it on rather than hide it as INTERNAL.
  // libvirt's own "internal error" stays INTERNAL (logged in full, a reference on the wire).
  const code = CODE_OF.find(([test]) => test(err))?.[1] ?? (/(^|: )internal error/.test(info.message) ? undefined : 'FAILED_PRECONDITION');
  if (code === undefined) return err;
  const message = code === 'UNAVAILABLE' ? `libvirtd is unreachable (${doing}): ${info.message}` : `${doing}: ${info.message}`;
  return new KvmcloneError(code, message, { cause: err });
}

/**
 * What a failed domainDefineXML should throw: libvirt's "internal error" is
 * the caller's XML, not the agent. libvirt's domain parser reports many
 * malformed definitions that way ("malformed uuid element", "missing domain
 * type attribute"), and nothing is defined when it does, so the caller gets
 * INVALID_ARGUMENT with libvirt's reason. Anything else (a lost connection
 * included) is handed back unchanged for libvirtFailure and the reconnect.
 */
export function definitionFailure(err: unknown, doing: string): unknown {
  const info = libvirtFailureInfo(err);
  if (info?.code !== VIR_ERR.INTERNAL_ERROR || isConnectionError(err)) return err;
  return new KvmcloneError('INVALID_ARGUMENT', `${doing}: libvirt refused the definition: ${info.message}`, { cause: err });
}
