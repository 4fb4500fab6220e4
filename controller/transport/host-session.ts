/**
 * One host as an operation sees it: an SSH connection (reused by every call),
 * the agent's socket forwarded to the controller, typed clients, and the
 * agent's Info — checked for a compatible API before anything else happens.
 */
import type * as grpc from '@grpc/grpc-js';
import { createAgentClients, unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import { failedPrecondition } from '../../shared/errors.js';
import { fromStatus } from '../../shared/from-status.js';
import type { GetInfoResponse__Output } from '../../shared/generated/kvmclone/agent/v1/GetInfoResponse.js';
import { API_VERSION } from '../../shared/proto.js';
import { KVMCLONE_VERSION } from '../../shared/version.js';
import type { AgentCapability } from '../../shared/capabilities.js';
import type { SshConnection, SshEngine } from './ssh-engine.js';

/** Settings a session needs besides the engine. */
export interface SessionOptions {
  /** The agent's socket on the host. */
  agentSocket: string;
  /** Deadline of each control call. */
  callMs: number;
  signal?: AbortSignal;
  /** Capabilities the operation will use; an agent without one is refused up front. */
  needs?: readonly AgentCapability[];
  /** The operation every call of the session belongs to: sent as metadata, so the agent's audit records name it. */
  operationId?: string;
}

type UnaryMethod<Req, Res> = (argument: Req, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;

/** A connected, version-checked agent on one host. */
export class HostSession {
  private constructor(
    readonly host: string,
    readonly connection: SshConnection,
    readonly clients: AgentClients,
    readonly info: GetInfoResponse__Output,
    private readonly callMs: number,
    readonly agentSocket: string,
  ) {}

  /** Connects over SSH, forwards the agent socket, and checks the agent's API version and capabilities. */
  static async open(engine: SshEngine, host: string, options: SessionOptions): Promise<HostSession> {
    const connection = await engine.connect(host, { signal: options.signal });
    let clients: AgentClients | undefined;
    try {
      const local = await connection.forwardToLocal(options.agentSocket, { signal: options.signal });
      clients = createAgentClients(`unix:${local}`, {}, options.operationId);
      const info = await unaryCall(clients.info, clients.info.getInfo, {}, { deadlineMs: options.callMs, signal: options.signal }).catch((err: unknown) => {
        throw fromStatus(err, host);
      });
      if (!info.apiVersions.includes(API_VERSION)) {
        throw failedPrecondition(
          `${host}: kvmclone-agent ${info.agentVersion} speaks API ${info.apiVersions.join(', ') || 'none'}, but kvmctl ${KVMCLONE_VERSION} needs ${API_VERSION}: upgrade kvmclone-agent on ${host} to ${KVMCLONE_VERSION}`,
        );
      }
      const missing = (options.needs ?? []).filter((c) => !info.capabilities.includes(c));
      if (missing.length > 0) {
        throw failedPrecondition(`${host}: kvmclone-agent ${info.agentVersion} lacks ${missing.join(', ')}: upgrade kvmclone-agent on ${host} to ${KVMCLONE_VERSION}`);
      }
      return new HostSession(host, connection, clients, info, options.callMs, options.agentSocket);
    } catch (err) {
      clients?.close();
      await connection.close();
      throw err;
    }
  }

  /** A unary call with the session's deadline; failures become KvmcloneErrors naming the host. */
  async call<C extends grpc.Client, Req, Res>(client: C, method: UnaryMethod<Req, Res>, request: Req, signal?: AbortSignal): Promise<Res> {
    try {
      return await unaryCall(client, method, request, { deadlineMs: this.callMs, signal });
    } catch (err) {
      throw fromStatus(err, this.host);
    }
  }

  /** Closes the clients and the SSH connection. */
  async close(): Promise<void> {
    this.clients.close();
    await this.connection.close();
  }
}
