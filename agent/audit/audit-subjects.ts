/**
 * What an audited call is about — its operation, VM and paths — read from
 * its request (for a client stream, its first message) and its answer. The
 * fields are looked up by their proto names across all services, so a new
 * RPC that uses the usual names (operation_id, vm_name, path, target_path,
 * ...) is described without a change here; DefineDomain's VM is read from
 * the answer, or from the definition's <name> when it was refused.
 */
import type { Metadata } from '@grpc/grpc-js';
import { OPERATION_ID_METADATA } from '../../shared/operation-metadata.js';

/** The subject of one call. */
export interface AuditSubjects {
  operationId: string | null;
  vm: string | null;
  paths: string[];
}

/** Longest operation id, VM name or path kept in a record: the record stays a bounded line whatever a caller sends. */
const MAX_FIELD = 4096;
/** Most paths kept from one call (OpenTicket names a few; more is a malformed or hostile request). */
const MAX_PATHS = 64;

/** Request fields naming a VM, by preference. `name` names a VM only in DomainService requests. */
const VM_FIELDS = ['vmName', 'destVm'] as const;
/** Request fields naming files. */
const REQUEST_PATH_FIELDS = ['path', 'targetPath', 'sourcePath', 'backingPath', 'paths'] as const;
/** Answer fields naming files the call made or removed. */
const RESPONSE_PATH_FIELDS = ['stagingPath', 'path', 'removedPaths'] as const;

type Fields = Readonly<Record<string, unknown>>;

function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, MAX_FIELD) : null;
}

function asFields(value: unknown): Fields {
  return typeof value === 'object' && value !== null ? (value as Fields) : {};
}

/** The <name> of a domain definition, without parsing the whole XML (it may be the malformed reason the call was refused). */
function definitionName(xml: unknown): string | null {
  if (typeof xml !== 'string') return null;
  const m = /<name>\s*([^<]{1,256}?)\s*<\/name>/.exec(xml.slice(0, 64 * 1024));
  return m?.[1] ?? null;
}

function pathsOf(fields: Fields, names: readonly string[], into: string[]): void {
  for (const name of names) {
    const value = fields[name];
    for (const p of Array.isArray(value) ? value : [value]) {
      const t = text(p);
      if (t !== null && !into.includes(t) && into.length < MAX_PATHS) into.push(t);
    }
  }
}

/**
 * Builds the subjects of a call to `method` ("/pkg.Service/Method") from its
 * request (client streams: the first message, whose `open` holds the target),
 * its answer when it succeeded, and its metadata.
 */
export function auditSubjects(method: string, request: unknown, response: unknown, metadata: Metadata | undefined): AuditSubjects {
  const req = asFields(request);
  const opened = asFields(req.open);
  const res = asFields(response);
  const fromMetadata = metadata?.get(OPERATION_ID_METADATA)[0];
  const operationId = text(req.operationId) ?? text(fromMetadata);
  let vm: string | null = null;
  for (const f of VM_FIELDS) vm ??= text(req[f]);
  if (method.includes('.DomainService/')) {
    vm ??= text(req.name) ?? text(asFields(res.domain).name) ?? definitionName(req.xml);
  }
  const paths: string[] = [];
  pathsOf(req, REQUEST_PATH_FIELDS, paths);
  pathsOf(opened, REQUEST_PATH_FIELDS, paths);
  pathsOf(res, RESPONSE_PATH_FIELDS, paths);
  return { operationId, vm, paths };
}
