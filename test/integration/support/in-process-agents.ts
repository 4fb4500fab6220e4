/**
 * Two agents served in this test process (startAgentServer with a
 * FakeLibvirt) for a test file (an AgentPair, agent-pair.ts), A the source
 * and B the destination, connected as the controller's SSH forwards would
 * connect them.
 */
import { before, after } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createAgentClients, type AgentClients } from '../../../shared/agent-clients.js';
import { FakeLibvirt } from '../../../agent/libvirt/fake-libvirt.js';
import { ImageRoots } from '../../../agent/paths/image-roots.js';
import type { RunningAgentServer } from '../../../agent/server/agent-server.js';
import { PeerBroker } from '../../support/peer-broker.js';
import { AgentPair } from './agent-pair.js';
import { startInProcessAgent } from './in-process-agent.js';

export const log = pino({ level: 'silent' });

/** The two agents' directories, clients and B's image roots, filled in before the file's tests. */
export class InProcessAgentPair extends AgentPair {
  runA = '';
  rootsB!: ImageRoots;
  private servers: RunningAgentServer[] = [];

  async start(prefix: string): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), prefix));
    const sa = await this.startAgent('a');
    const sb = await this.startAgent('b');
    this.a = sa.clients;
    this.b = sb.clients;
    this.imagesA = sa.images;
    this.imagesB = sb.images;
    this.runA = sa.runtime;
    this.runB = sb.runtime;
    this.peers = new PeerBroker(() => this.a, this.runB);
    this.rootsB = sb.roots;
  }

  async stop(): Promise<void> {
    this.peers?.close();
    this.a?.close();
    this.b?.close();
    for (const s of this.servers) await s.close(1000);
    this.servers = [];
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true });
  }

  /** A ticket on A for `paths` and a proxy of A's peer socket in B's runtime dir: a pull request's peer_socket and ticket. */
  broker(...paths: string[]): Promise<{ peerSocket: string; ticket: string }> {
    return this.peers.broker(...paths);
  }

  private async startAgent(name: string): Promise<{ clients: AgentClients; runtime: string; images: string; roots: ImageRoots }> {
    const { server, runtime, images, roots } = await startInProcessAgent(join(this.dir, name), new FakeLibvirt());
    this.servers.push(server);
    return { clients: createAgentClients(`unix:${join(runtime, 'agent.sock')}`), runtime, images, roots };
  }
}

/**
 * Two in-process agents for the calling test file, in a temporary directory named from `prefix`: started before its
 * tests, then `prepare` run (one hook: Node 20 runs a file's top-level before hooks concurrently), stopped after them.
 */
export function useInProcessAgents(prefix: string, prepare?: (pair: InProcessAgentPair) => Promise<void>): InProcessAgentPair {
  const pair = new InProcessAgentPair();
  before(async () => {
    await pair.start(prefix);
    await prepare?.(pair);
  });
  after(() => pair.stop());
  return pair;
}
