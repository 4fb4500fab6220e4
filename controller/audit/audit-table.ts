/**
 * Audit entries as text, one line each: when, what (service/method), how it
 * ended, about which VM and operation, who asked, how long, and the paths
 * (or, for a refused call, the reason).
 */
import type { AuditEntry__Output } from '../../shared/generated/kvmclone/agent/v1/AuditEntry.js';

/** "DiskService/RemoveImage" from "/kvmclone.agent.v1.DiskService/RemoveImage". */
export function shortMethod(method: string): string {
  return method.replace(/^\/kvmclone\.agent\.v\d+\./, '');
}

function caller(e: AuditEntry__Output): string {
  return e.caller ? `${e.caller.uid}:${e.caller.gid}/${e.caller.pid}` : '-';
}

/** The header and one line per entry. */
export function auditTable(entries: readonly AuditEntry__Output[]): string {
  const header = `${'TIME'.padEnd(24)}  ${'CALL'.padEnd(30)}  ${'CODE'.padEnd(19)}  ${'VM'.padEnd(16)}  ${'OPERATION'.padEnd(8)}  ${'CALLER'.padEnd(16)}  ${'MS'.padStart(8)}  PATHS / MESSAGE\n`;
  const lines = entries.map((e) => {
    const detail = [e.paths.join(' '), e.code === 'OK' ? '' : e.message].filter((s) => s !== '').join('  ');
    return `${e.time.padEnd(24)}  ${shortMethod(e.method).padEnd(30)}  ${e.code.padEnd(19)}  ${(e.vm || '-').padEnd(16)}  ${(e.operationId.slice(0, 8) || '-').padEnd(8)}  ${caller(e).padEnd(16)}  ${e.durationMs.toFixed(0).padStart(8)}  ${detail}\n`;
  });
  return header + lines.join('');
}
