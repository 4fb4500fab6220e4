/**
 * PullImage: the destination agent dials the source agent's peer socket
 * (re-exposed on this host by the controller's SSH forwards) and streams the
 * image into a staging file beside the target. The bytes go agent to agent;
 * the controller only sees progress.
 */
import { Metadata } from '@grpc/grpc-js';
import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { createAgentClients, unaryCall } from '../../shared/agent-clients.js';
import { invalidArgument } from '../../shared/errors.js';
import { fromStatus } from '../../shared/from-status.js';
import type { PullImageRequest__Output } from '../../shared/generated/kvmclone/agent/v1/PullImageRequest.js';
import type { PullProgress } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { ReadRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import type { WriteRangesRequest__Output } from '../../shared/generated/kvmclone/agent/v1/WriteRangesRequest.js';
import { ProgressThrottle } from '../../shared/progress-throttle.js';
import { checkAbsolutePath } from '../../shared/validation.js';
import { digestFile } from '../disk/block-hasher.js';
import { writeRanges } from '../disk/staging-writer.js';
import type { ImageRoots } from '../paths/image-roots.js';
import type { StreamSink } from '../rpc/handlers.js';

/** Metadata key carrying a peer ticket. */
export const TICKET_METADATA = 'kvmclone-ticket';

/** Per-operation peer sockets: `<runtime dir>/peer-<id>.sock`, nothing else. */
const PEER_SOCKET_NAME = /^peer-[a-z0-9][a-z0-9-]{7,63}\.sock$/;

/** Checks that `path` is a per-operation peer socket in the agent's runtime directory. */
export function checkPeerSocket(path: string, runtimeDir: string): string {
  const p = checkAbsolutePath(path, 'peer_socket');
  if (dirname(p) !== runtimeDir || !PEER_SOCKET_NAME.test(basename(p))) {
    throw invalidArgument(`peer_socket: ${p} is not a per-operation peer socket (${runtimeDir}/peer-<id>.sock)`);
  }
  return p;
}

/** Pulls one image; streams progress and ends with the digest of the staging file. */
export async function pullImage(
  req: PullImageRequest__Output,
  deps: { roots: ImageRoots; runtimeDir: string },
  send: StreamSink<PullProgress>,
  signal: AbortSignal,
): Promise<void> {
  const peer = checkPeerSocket(req.peerSocket, deps.runtimeDir);
  if (!/^[0-9a-f]{64}$/.test(req.ticket)) throw invalidArgument('ticket: not a ticket issued by OpenTicket');
  const sourcePath = checkAbsolutePath(req.sourcePath, 'source_path');
  const clients = createAgentClients(`unix:${peer}`);
  const metadata = new Metadata();
  metadata.set(TICKET_METADATA, req.ticket);
  try {
    const stat = await unaryCall(clients.disk, clients.disk.statImage, { path: sourcePath }, { deadlineMs: 60_000, signal, metadata }).catch((err: unknown) => {
      throw fromStatus(err, 'source agent');
    });
    const size = stat.fileSize;
    const total = req.ranges.length > 0 ? req.ranges.reduce((sum, r) => sum + r.length, 0) : size;
    const reader = clients.disk.readRanges({ path: sourcePath, ranges: req.ranges, chunkSize: 0 }, metadata);
    const onAbort = (): void => reader.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    const throttle = new ProgressThrottle(total);
    let done = 0;
    let transferred = 0;
    async function* writes(): AsyncGenerator<WriteRangesRequest__Output> {
      yield { payload: 'open', open: { targetPath: req.targetPath, size, stagingId: req.stagingId } };
      try {
        for await (const message of reader as AsyncIterable<ReadRangesResponse__Output>) {
          if (message.data) {
            done += message.data.data.length;
            transferred += message.data.data.length;
            yield { payload: 'data', data: message.data };
          } else if (message.zero) {
            done += message.zero.length;
            yield { payload: 'zero', zero: message.zero };
          }
          if (throttle.shouldReport(done)) {
            await send({ bytesDone: done, bytesTotal: total, bytesTransferred: transferred, done: false });
          }
        }
      } catch (err) {
        throw signal.aborted ? err : fromStatus(err, 'source agent');
      }
    }
    let staging;
    try {
      // The controller learns the staging file first, so it can remove it even if this agent dies.
      staging = await writeRanges(writes(), deps.roots, signal, (opened) =>
        send({ stagingId: opened.id, stagingPath: opened.path, bytesDone: 0, bytesTotal: total, bytesTransferred: 0, done: false }),
      );
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    let digest: string;
    try {
      const fh = await open(staging.stagingPath, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        digest = await digestFile(fh, size, signal);
      } finally {
        await fh.close();
      }
    } catch (err) {
      // Its id never reached the controller: a staging file made by this call must not outlive it.
      if (req.stagingId === '') await rm(staging.stagingPath, { force: true });
      throw err;
    }
    await send({
      stagingId: staging.stagingId,
      stagingPath: staging.stagingPath,
      bytesDone: done,
      bytesTotal: total,
      bytesTransferred: transferred,
      digest,
      done: true,
    });
  } finally {
    clients.close();
  }
}
