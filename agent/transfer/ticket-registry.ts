/**
 * Tickets for the peer socket. The socket a controller re-exposes on the
 * destination host is reachable by anything running as that login user, so
 * it must reach nothing but the blocks of one operation: a ticket names the
 * resolved image paths it may read and lives exactly as long as the
 * controller's OpenTicket call stays open.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

interface Ticket {
  readonly secret: Buffer;
  readonly paths: ReadonlySet<string>;
  readonly operationId: string;
}

/** Live tickets of this agent, in memory only (an agent restart revokes them all). */
export class TicketRegistry {
  private readonly tickets = new Map<string, Ticket>();

  /** Issues a ticket for `paths` (already resolved and confined); returns its text form. */
  issue(paths: readonly string[], operationId: string): string {
    const secret = randomBytes(32);
    const text = secret.toString('hex');
    this.tickets.set(text.slice(0, 16), { secret, paths: new Set(paths), operationId });
    return text;
  }

  /** Revokes a ticket at once. */
  revoke(ticket: string): void {
    this.tickets.delete(ticket.slice(0, 16));
  }

  /** The operation id when `ticket` is live and allows `resolvedPath`, else undefined. */
  allows(ticket: string, resolvedPath: string): string | undefined {
    if (!/^[0-9a-f]{64}$/.test(ticket)) return undefined;
    const entry = this.tickets.get(ticket.slice(0, 16));
    if (!entry || !timingSafeEqual(entry.secret, Buffer.from(ticket, 'hex'))) return undefined;
    return entry.paths.has(resolvedPath) ? entry.operationId : undefined;
  }

  /** Number of live tickets (diagnostics and tests). */
  get size(): number {
    return this.tickets.size;
  }
}
