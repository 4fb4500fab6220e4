/**
 * The live counterpart of the brokered path (clone/transfer-files.ts): the
 * source agent opens a point-in-time view of the running VM (OpenLiveView:
 * a backup job whose exports only its ticket can read), its peer socket is
 * forwarded to the controller and re-exposed on the destination host at a
 * fresh per-operation path, and the destination agent pulls from the view.
 * Files outside the view (UEFI NVRAM) get an ordinary ticket on the same
 * path. Closing ends the job on the source: cancelling the OpenLiveView call
 * is what ends it, so a controller that dies ends it too.
 */
import type { ClientReadableStream } from '@grpc/grpc-js';
import { fromStatus } from '../../../shared/from-status.js';
import type { LiveViewEvent__Output } from '../../../shared/generated/kvmclone/agent/v1/LiveViewEvent.js';
import type { OpenLiveViewRequest } from '../../../shared/generated/kvmclone/agent/v1/OpenLiveViewRequest.js';
import type { TicketEvent__Output } from '../../../shared/generated/kvmclone/agent/v1/TicketEvent.js';
import type { HostSession } from '../../transport/host-session.js';
import { exposePeer } from '../peer-forward.js';

/** An open live path. */
export interface LivePath {
  /** What the source agent said of the view (disks, consistency, checkpoint, delta reason). */
  readonly view: LiveViewEvent__Output;
  /** Ticket for the view paths. */
  readonly ticket: string;
  /** Ticket for the plain files asked for (NVRAM), or '' when none were. */
  readonly fileTicket: string;
  /** The per-operation socket on the destination host that reaches the source's peer socket. */
  readonly remotePeer: string;
  /** Ends the view (and its backup job), revokes the tickets, removes the forwards; never rejects. */
  close(): Promise<void>;
}

/** The first message of a server stream (what its caller waits for); rejects with the host's error, cancels on abort. */
export function firstMessage<T>(call: ClientReadableStream<T>, session: HostSession, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => call.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    call.once('data', (message: T) => {
      signal.removeEventListener('abort', onAbort);
      resolve(message);
    });
    call.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(fromStatus(err, session.host));
    });
  });
}

/** Opens the view, a ticket for `files` (if any) and the forwards. Everything opened is closed again on failure. */
export async function openLivePath(src: HostSession, dst: HostSession, request: OpenLiveViewRequest, files: readonly string[], signal: AbortSignal): Promise<LivePath> {
  const cleanups: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    const viewCall = src.clients.transfer.openLiveView(request);
    cleanups.push(async () => viewCall.cancel());
    const view = await firstMessage<LiveViewEvent__Output>(viewCall, src, signal);
    let fileTicket = '';
    if (files.length > 0) {
      const ticketCall = src.clients.transfer.openTicket({ paths: [...files], operationId: request.operationId ?? '' });
      cleanups.push(async () => ticketCall.cancel());
      fileTicket = (await firstMessage<TicketEvent__Output>(ticketCall, src, signal)).ticket;
    }
    const exposed = await exposePeer(src, view.peerSocket, dst, request.operationId ?? '', signal);
    cleanups.push(() => exposed.close());
    return { view, ticket: view.ticket, fileTicket, remotePeer: exposed.remotePeer, close };
  } catch (err) {
    await close();
    throw err;
  }
}
