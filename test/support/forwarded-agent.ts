/**
 * A testbed host's agent reached as kvmctl reaches it: gRPC clients over an
 * OpenSSH forward of its socket (testbed.ts forwardAgentSocket), closed
 * together.
 */
import { createAgentClients, type AgentClients } from '../../shared/agent-clients.js';
import { forwardAgentSocket, sshConfigPath } from './testbed.js';

/** The clients, and the close of both them and the forward. */
export interface ForwardedAgent {
  readonly clients: AgentClients;
  close(): Promise<void>;
}

/** Forwards `remoteSocket` of `host` (the admin socket unless told) and connects clients to it. */
export async function forwardedAgent(host: string, remoteSocket = '/run/kvmclone/agent.sock', configFile = sshConfigPath()): Promise<ForwardedAgent> {
  const forward = await forwardAgentSocket(host, remoteSocket, configFile);
  const clients = createAgentClients(`unix:${forward.localSocket}`);
  return {
    clients,
    close: async () => {
      clients.close();
      await forward.close();
    },
  };
}
