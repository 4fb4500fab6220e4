/**
 * Copies one image from one agent to another by relaying ReadRanges into
 * WriteRanges in the test process. The product moves bytes agent to agent;
 * this relay exists to exercise the two halves of the data plane end to end.
 */
import type * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import type { AgentClients } from '../../shared/agent-clients.js';
import { unaryCall } from '../../shared/agent-clients.js';
import type { ReadRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import type { WriteRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/WriteRangesResponse.js';

/** Outcome of a relay: the staging file on the destination and the bytes moved. */
export interface RelayResult {
  staging: WriteRangesResponse__Output;
  dataBytes: number;
  zeroBytes: number;
}

/** Streams `sourcePath` from `from` into a staging file for `targetPath` on `to` (not committed). */
export async function relayImage(from: AgentClients, sourcePath: string, to: AgentClients, targetPath: string): Promise<RelayResult> {
  const stat = await unaryCall(from.disk, from.disk.statImage, { path: sourcePath }, { deadlineMs: 30_000 });
  let dataBytes = 0;
  let zeroBytes = 0;
  const deadline = Date.now() + 600_000;
  const staging = new Promise<WriteRangesResponse__Output>((resolve, reject) => {
    const writer: grpc.ClientWritableStream<object> = to.disk.writeRanges({ deadline }, (err, res) => (err ? reject(err) : res ? resolve(res) : reject(new Error('no response'))));
    const reader = from.disk.readRanges({ path: sourcePath, ranges: [], chunkSize: 0 }, { deadline });
    reader.on('error', (err) => {
      writer.cancel();
      reject(err);
    });
    void (async () => {
      writer.write({ open: { targetPath, size: stat.fileSize, stagingId: '' } });
      for await (const message of reader as AsyncIterable<ReadRangesResponse__Output>) {
        if (message.data) dataBytes += message.data.data.length;
        if (message.zero) zeroBytes += message.zero.length;
        if (!writer.write(message.data ? { data: message.data } : { zero: message.zero })) await once(writer, 'drain');
      }
      writer.end();
    })().catch(reject);
  });
  return { staging: await staging, dataBytes, zeroBytes };
}
