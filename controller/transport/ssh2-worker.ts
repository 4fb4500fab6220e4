/**
 * Entry point of the ssh2 engine's worker thread: one worker per SSH
 * connection. It owns the ssh2 clients (target and ProxyJump hops), the
 * local forward sockets and every relayed byte, and answers the main
 * thread's requests (ssh2-worker-protocol.ts) one reply per request.
 */
import { parentPort } from 'node:worker_threads';
import type { Client as Ssh2Client } from 'ssh2';
import { ChannelSession } from './ssh2-channels.js';
import { openChain } from './ssh2-session.js';
import { SshError } from './ssh-engine.js';
import type { ReplyValue, WireError, WorkerReply, WorkerRequest } from './ssh2-worker-protocol.js';

if (!parentPort) throw new Error('ssh2-worker.js must run as a worker thread');
const port = parentPort;

let host = '';
let clients: readonly Ssh2Client[] = [];
let session: ChannelSession | undefined;
let closing = false;

function post(reply: WorkerReply): void {
  port.postMessage(reply);
}

function toWire(err: unknown): WireError {
  if (err instanceof SshError) return { kind: err.kind, host: err.host, message: err.message, ...(err.fingerprint ? { fingerprint: err.fingerprint } : {}) };
  return { kind: 'other', host, message: `${host}: ${(err as Error)?.message ?? String(err)}` };
}

function open(): ChannelSession {
  if (!session) throw new SshError('other', host, `${host}: not connected`);
  return session;
}

/** Watches the chain after it is up: any hop going away ends the connection; the main thread is told once. */
function watch(chain: readonly Ssh2Client[]): void {
  let reported = false;
  const lost = (why: string): void => {
    if (closing || reported) return;
    reported = true;
    post({ type: 'lost', error: { kind: 'unreachable', host, message: `${host}: SSH connection lost: ${why}` } });
  };
  for (const c of chain) {
    c.on('error', (err: Error) => lost(err.message));
    c.on('close', () => lost('closed by the remote side or the network'));
  }
}

async function endAll(): Promise<void> {
  await Promise.all(
    [...clients].reverse().map(
      (c) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            c.destroy();
            resolve();
          }, 2_000);
          c.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          c.end();
        }),
    ),
  );
}

async function dispatch(req: WorkerRequest): Promise<ReplyValue> {
  switch (req.op) {
    case 'connect': {
      host = req.plan.host;
      const chain = await openChain(req.plan);
      clients = chain.clients;
      watch(clients);
      session = new ChannelSession(clients[clients.length - 1], host, req.plan.runtimeDir);
      return chain.info;
    }
    case 'forwardToLocal':
      return open().forwardToLocal(req.remoteSocket, req.at);
    case 'closeLocal':
      await open().closeLocal(req.localSocket);
      return undefined;
    case 'forwardToRemote':
      await open().forwardToRemote(req.remotePath, req.localSocket, req.hostRemoves);
      return undefined;
    case 'cancelRemoteForward':
      await open().cancelRemoteForward(req.remotePath);
      return undefined;
    case 'exec':
      return open().exec(req.id, req.command, req.input);
    case 'cancelExec':
      await open().cancelExec(req.execId);
      return undefined;
    case 'close':
      closing = true;
      await session?.close();
      await endAll();
      return undefined;
  }
}

port.on('message', (req: WorkerRequest) => {
  dispatch(req).then(
    (value) => post({ type: 'ok', id: req.id, value }),
    (err: unknown) => post({ type: 'error', id: req.id, error: toWire(err) }),
  );
});
