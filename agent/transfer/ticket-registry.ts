/**
 * Tickets for the peer socket. The socket a controller re-exposes on the
 * destination host is reachable by anything running as that login user, so
 * it must reach nothing but the blocks of one operation: a ticket names the
 * resolved image paths it may read and lives exactly as long as the
 * controller's OpenTicket call stays open.
 *
 * "Lives" includes the streams already running on it: each ticket carries an
 * AbortSignal that revocation aborts (with PERMISSION_DENIED, "revoked"), and
 * the peer socket ends every call made with the ticket on that signal — a
 * ReadRanges begun while the operation ran does not keep reading after it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { permissionDenied } from '../../shared/errors.js';

interface Ticket {
  readonly secret: Buffer;
  readonly paths: ReadonlySet<string>;
  readonly operationId: string;
  readonly revoked: AbortController;
}

/** What a live ticket grants: the paths it names, for as long as its signal has not aborted. */
export interface TicketGrant {
  readonly operationId: string;
  /** True when the ticket names `resolvedPath` (a path resolved and confined, or a live view path). */
  allows(resolvedPath: string): boolean;
  /** Aborts, with a PERMISSION_DENIED KvmcloneError as its reason, when the ticket is revoked. */
  readonly signal: AbortSignal;
}

/** Live tickets of this agent, in memory only (an agent restart revokes them all). */
export class TicketRegistry {
  private readonly tickets = new Map<string, Ticket>();

  /** Issues a ticket for `paths` (already resolved and confined); returns its text form. */
  issue(paths: readonly string[], operationId: string): string {
    const secret = randomBytes(32);
    const text = secret.toString('hex');
    this.tickets.set(text.slice(0, 16), { secret, paths: new Set(paths), operationId, revoked: new AbortController() });
    return text;
  }

  /** Revokes a ticket at once, and ends every peer call running on it. */
  revoke(ticket: string): void {
    const entry = this.entry(ticket);
    if (entry === undefined) return;
    this.tickets.delete(ticket.slice(0, 16));
    entry.revoked.abort(permissionDenied(`the ticket of operation ${entry.operationId} was revoked (the operation that opened it has ended); the read was stopped`));
  }

  /**
   * The grant of a live ticket, or undefined — decided from the ticket alone,
   * before any path is looked at, so a caller without a valid ticket learns
   * nothing about which files exist.
   */
  lookup(ticket: string): TicketGrant | undefined {
    const entry = this.entry(ticket);
    if (entry === undefined) return undefined;
    return { operationId: entry.operationId, allows: (path) => entry.paths.has(path), signal: entry.revoked.signal };
  }

  /** The operation id when `ticket` is live and allows `resolvedPath`, else undefined. */
  allows(ticket: string, resolvedPath: string): string | undefined {
    const grant = this.lookup(ticket);
    return grant?.allows(resolvedPath) === true ? grant.operationId : undefined;
  }

  /** Number of live tickets (diagnostics and tests). */
  get size(): number {
    return this.tickets.size;
  }

  private entry(ticket: string): Ticket | undefined {
    if (!/^[0-9a-f]{64}$/.test(ticket)) return undefined;
    const entry = this.tickets.get(ticket.slice(0, 16));
    if (!entry || !timingSafeEqual(entry.secret, Buffer.from(ticket, 'hex'))) return undefined;
    return entry;
  }
}
