/**
 * A client that ends its HTTP/2 connection with an error code (GOAWAY with
 * COMPRESSION_ERROR, PROTOCOL_ERROR, …) while it has streams open must not
 * take the agent down: Node destroys the session and those streams with
 * ERR_HTTP2_SESSION_ERROR, and before WideWindowServer listened for it that
 * error was uncaught and killed the process (the fuzzer found it). Here the
 * server runs in the test's own process, so an uncaught error fails the run;
 * after the misbehaving clients it must still answer a call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { WideWindowServer } from '../../agent/rpc/wide-window-server.js';

const ECHO_PATH = '/kvmclone.test.Echo/Say';

function bind(server: grpc.Server): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
}

/** One connection that opens `streams` calls (to a known and an unknown method), then sends GOAWAY with `code`. */
async function misbehave(port: number, streams: number, code: number): Promise<void> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  for (let i = 0; i < streams; i += 1) {
    const path = i % 2 === 0 ? ECHO_PATH : '/kvmclone.test.Nothing/Here';
    const call = client.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    call.on('error', () => undefined);
    call.write(Buffer.from([0, 0, 0, 0, 2, 8, 1]));
  }
  await sleep(5);
  client.goaway(code);
  await sleep(20);
  client.destroy();
}

test('GOAWAY with an error code from a client with open streams leaves the server serving', async () => {
  const server = new WideWindowServer();
  const echo: grpc.UntypedServiceImplementation = {
    Say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, call.request),
  };
  const identity = (b: Buffer): Buffer => b;
  server.addService(
    {
      Say: {
        path: ECHO_PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    echo,
  );
  const port = await bind(server);
  try {
    // COMPRESSION_ERROR (what the fuzzer sent), PROTOCOL_ERROR, INTERNAL_ERROR, ENHANCE_YOUR_CALM.
    for (const code of [9, 1, 2, 11]) for (let round = 0; round < 5; round += 1) await misbehave(port, 4, code);
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const answer = await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(ECHO_PATH, identity, identity, Buffer.from('still here'), (err, value) =>
        err || value === undefined ? reject(err ?? new Error('no answer')) : resolve(value),
      ),
    );
    client.close();
    assert.equal(answer.toString(), 'still here');
  } finally {
    server.forceShutdown();
  }
});
