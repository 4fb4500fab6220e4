/**
 * How SSH failures count: an unknown or changed host key is a refusal (the
 * user must check the fingerprint), authentication is a permission problem,
 * everything else means the host could not be reached.
 */
import { KvmcloneError, type ErrorCode } from '../../shared/errors.js';
import { SshError, type SshFailureKind } from './ssh-engine.js';

const CODES: Readonly<Record<SshFailureKind, ErrorCode>> = {
  'unknown-host-key': 'FAILED_PRECONDITION',
  'changed-host-key': 'FAILED_PRECONDITION',
  auth: 'PERMISSION_DENIED',
  unreachable: 'UNAVAILABLE',
  forward: 'UNAVAILABLE',
  config: 'INVALID_ARGUMENT',
  other: 'UNAVAILABLE',
};

/** The KvmcloneError for an SshError (its message already names the host and, for keys, the fingerprint). */
export function fromSshError(err: SshError): KvmcloneError {
  return new KvmcloneError(CODES[err.kind], err.message, { cause: err });
}

/** Converts SshErrors, passes everything else through. */
export function normalizeSshError(err: unknown): unknown {
  return err instanceof SshError ? fromSshError(err) : err;
}
