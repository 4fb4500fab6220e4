/**
 * What kvmctl does between two agents for an agent-to-agent pull, for
 * integration tests that run both agents on one machine: a ticket on the
 * source agent for the paths, and a byte proxy of the source's peer socket at
 * a fresh path in the destination agent's runtime directory (where kvmctl's
 * SSH forward would be). `close` cancels the tickets and stops the proxies.
 */
import { randomUUID } from 'node:crypto';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { ClientReadableStream } from '@grpc/grpc-js';
import type { AgentClients } from '../../shared/agent-clients.js';
import type { TicketEvent__Output } from '../../shared/generated/kvmclone/agent/v1/TicketEvent.js';

/** Tickets and proxies from one source agent into one destination runtime directory. */
export class PeerBroker {
  private readonly tickets: ClientReadableStream<TicketEvent__Output>[] = [];
  private readonly proxies: Server[] = [];

  /**
   * @param source the source agent's clients now (a function: a test may restart that agent)
   * @param destRuntime the destination agent's runtime directory
   */
  constructor(
    private readonly source: () => AgentClients,
    private readonly destRuntime: string,
  ) {}

  /** A ticket for `paths` and a proxy to the source's peer socket; the pull request's peer_socket and ticket. */
  async broker(...paths: string[]): Promise<{ peerSocket: string; ticket: string }> {
    const call = this.source().transfer.openTicket({ paths, operationId: randomUUID() });
    this.tickets.push(call);
    const ticket = await new Promise<TicketEvent__Output>((resolve, reject) => {
      call.once('data', resolve);
      call.once('error', reject);
    });
    const peerSocket = join(this.destRuntime, `peer-${randomUUID()}.sock`);
    const server = createServer((socket) => {
      const upstream = createConnection(ticket.peerSocket);
      socket.pipe(upstream).pipe(socket);
      // Gone on one side, gone on the other (a paused, unpiped side would otherwise never see its end).
      socket.on('close', () => upstream.destroy());
      upstream.on('close', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    this.proxies.push(server);
    await new Promise<void>((resolve) => server.listen(peerSocket, resolve));
    return { peerSocket, ticket: ticket.ticket };
  }

  /** Cancels every ticket and stops every proxy. */
  close(): void {
    for (const t of this.tickets) t.cancel();
    for (const p of this.proxies) p.close();
  }
}
