/**
 * What the integration tests' pairs of agents share (agent-processes.ts: two
 * agent processes; in-process-agents.ts: two agents served in the test
 * process): A the source and B the destination, each with an image root and
 * a runtime directory under one temporary directory, a PeerBroker
 * (../../support/peer-broker.ts) from A into B's runtime directory, and the
 * PullImage requests from A into B.
 */
import { randomUUID } from 'node:crypto';
import type { AgentClients } from '../../../shared/agent-clients.js';
import type { PeerBroker } from '../../support/peer-broker.js';

/** The two agents' directories and clients, filled in before the file's tests. */
export class AgentPair {
  dir = '';
  imagesA = '';
  imagesB = '';
  runB = '';
  a!: AgentClients;
  b!: AgentClients;
  /** Tickets on A and proxies of its peer socket in B's runtime directory. */
  peers!: PeerBroker;
}

/** The fields every PullImage request from A into B has. */
export interface PullRequest {
  peerSocket: string;
  ticket: string;
  sourcePath: string;
  targetPath: string;
  stagingId: string;
  operationId: string;
}

/** A PullImage request of A's `source` into B's `target` through `peer` (its peer_socket and ticket), a new operation; `fields` add the rest (ranges, mode, layer…) or override. */
export function pullRequest(peer: { peerSocket: string; ticket: string }, source: string, target: string, fields: object): PullRequest {
  return { peerSocket: peer.peerSocket, ticket: peer.ticket, sourcePath: source, targetPath: target, stagingId: '', operationId: randomUUID(), ...fields };
}
