/**
 * Two real agent processes for a test file (an AgentPair, agent-pair.ts), A
 * the source and B the destination, on libvirt's test driver. B can be
 * SIGKILLed and started again on the same directories.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAgentClients, type AgentClients } from '../../../shared/agent-clients.js';
import { PeerBroker } from '../../support/peer-broker.js';
import { spawnAgent, waitForSocket, type AgentProcess } from '../../support/agent-process.js';
import { AgentPair } from './agent-pair.js';

/** The two agents' processes, directories and clients, filled in before the file's tests. */
export class AgentProcessPair extends AgentPair {
  agentA!: AgentProcess;
  agentB!: AgentProcess;
  /** Run first when the pair stops (tickets and proxies a test file made itself). */
  private readonly stopping: (() => void)[] = [];

  async start(prefix: string): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), prefix));
    ({ agent: this.agentA, clients: this.a } = await this.startAgent('a'));
    ({ agent: this.agentB, clients: this.b } = await this.startAgent('b'));
    this.imagesA = join(this.dir, 'a', 'images');
    this.imagesB = join(this.dir, 'b', 'images');
    this.runB = join(this.dir, 'b', 'run');
    this.peers = new PeerBroker(() => this.a, this.runB);
  }

  /** Runs `fn` when the pair stops, before the agents go. */
  atStop(fn: () => void): void {
    this.stopping.push(fn);
  }

  async stop(): Promise<void> {
    for (const fn of this.stopping) fn();
    this.peers?.close();
    this.a?.close();
    this.b?.close();
    for (const agent of [this.agentA, this.agentB]) if (agent && agent.child.exitCode === null) agent.child.kill('SIGTERM');
    await Promise.all([this.agentA?.exited, this.agentB?.exited]);
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true });
  }

  /** SIGKILLs the destination agent (if still running: no cleanup at all) and starts a new one on the same directories. */
  async restartB(): Promise<void> {
    this.b.close();
    if (this.agentB.child.exitCode === null) this.agentB.child.kill('SIGKILL');
    await this.agentB.exited;
    ({ agent: this.agentB, clients: this.b } = await this.startAgent('b'));
    // The killed agent's socket files are still there: wait for the new one to say it serves.
    for (let i = 0; i < 300 && !this.agentB.output.some((l) => l.includes('agent ready')); i += 1) await sleep(50);
    assert.ok(
      this.agentB.output.some((l) => l.includes('agent ready')),
      `the restarted agent did not become ready:\n${this.agentB.output.join('\n')}`,
    );
  }

  private async startAgent(name: string): Promise<{ agent: AgentProcess; clients: AgentClients }> {
    const runtime = join(this.dir, name, 'run');
    await mkdir(join(this.dir, name, 'images'), { recursive: true });
    const agent = spawnAgent(['--socket', join(runtime, 'agent.sock'), '--images-root', join(this.dir, name, 'images'), '--libvirt-uri', 'test:///default']);
    await waitForSocket(agent, join(runtime, 'agent.sock'));
    await waitForSocket(agent, join(runtime, 'peer.sock'));
    return { agent, clients: createAgentClients(`unix:${join(runtime, 'agent.sock')}`) };
  }
}

/** Two agent processes for the calling test file, in a temporary directory named from `prefix`: started before its tests, stopped after them. */
export function useAgentProcesses(prefix: string): AgentProcessPair {
  const pair = new AgentProcessPair();
  before(() => pair.start(prefix));
  after(() => pair.stop());
  return pair;
}
