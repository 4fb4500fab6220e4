/**
 * One host as an operation sees it: an SSH connection (reused by every call),
 * the agent's socket forwarded to the controller — the read-only one for
 * what only reads, the admin one otherwise — typed clients, and the agent's
 * Info, checked for a compatible API before anything else happens.
 */
import type * as grpc from '@grpc/grpc-js';
import { createAgentClients, unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import { failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import { fromStatus } from '../../shared/from-status.js';
import type { GetInfoResponse__Output } from '../../shared/generated/kvmclone/agent/v1/GetInfoResponse.js';
import { API_VERSION } from '../../shared/proto.js';
import { KVMCLONE_VERSION } from '../../shared/version.js';
import type { AgentCapability } from '../../shared/capabilities.js';
import { SshError, type SshConnection, type SshEngine } from './ssh-engine.js';

/** Settings a session needs besides the engine. */
export interface SessionOptions {
  /** The agent's admin socket on the host. */
  agentSocket: string;
  /**
   * The agent's read-only socket on the host, for an operation that needs
   * only read-only RPCs (ls, hosts check, --dry-run): the SSH account then
   * needs only the read-only socket's group. When it cannot be reached (an
   * agent older than the read-only socket, or an account outside its group)
   * the session uses the admin socket, and says so through `debug`.
   */
  readOnlySocket?: string;
  /** Where the fallback to the admin socket is told (a debug line). */
  debug?: (message: string) => void;
  /** Deadline of each control call. */
  callMs: number;
  signal?: AbortSignal;
  /** Capabilities the operation will use; an agent without one is refused up front. */
  needs?: readonly AgentCapability[];
  /** The operation every call of the session belongs to: sent as metadata, so the agent's audit records name it. */
  operationId?: string;
}

/** The slowest read rate a whole-image call is allowed before its deadline: 20 MB/s. */
const SLOWEST_READ_BYTES_PER_MS = 20_000;

/** Extra deadline of a call that reads `bytes`. */
export function readDeadlineMs(bytes: number): number {
  return Math.ceil(Math.max(0, bytes) / SLOWEST_READ_BYTES_PER_MS);
}

/** Which of the agent's sockets a session is connected to. */
export type SessionRole = 'admin' | 'read-only';

type UnaryMethod<Req, Res> = (argument: Req, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;

/** The read-only socket could not be reached (as opposed to an agent that answered and refused). */
function unreachable(err: unknown): boolean {
  return (err instanceof KvmcloneError && err.code === 'UNAVAILABLE') || (err instanceof SshError && err.kind === 'forward');
}

/** A connected, version-checked agent on one host. */
export class HostSession {
  private current: { connection: SshConnection; clients: AgentClients; info: GetInfoResponse__Output };
  /** Set by open: what reconnect needs to do it again. */
  private engine: SshEngine | undefined;
  private options: Omit<SessionOptions, 'signal'> | undefined;

  private constructor(
    readonly host: string,
    connection: SshConnection,
    clients: AgentClients,
    info: GetInfoResponse__Output,
    private readonly callMs: number,
    /** The agent's admin socket on the host (its directory is the agent's runtime directory). */
    readonly agentSocket: string,
    /** The socket this session's calls go to, and its role. */
    readonly socket: string,
    readonly role: SessionRole,
  ) {
    this.current = { connection, clients, info };
  }

  /** The SSH connection (a new one after `reconnect`). */
  get connection(): SshConnection {
    return this.current.connection;
  }

  /** The agent's clients (new ones after `reconnect`: read them at each call, never keep them). */
  get clients(): AgentClients {
    return this.current.clients;
  }

  /** The agent's Info, as last checked. */
  get info(): GetInfoResponse__Output {
    return this.current.info;
  }

  /**
   * Connects over SSH, forwards the agent socket (the read-only one when
   * `readOnlySocket` is given, else the admin one), and checks the agent's
   * API version and capabilities.
   */
  static async open(engine: SshEngine, host: string, options: SessionOptions): Promise<HostSession> {
    const connection = await engine.connect(host, { signal: options.signal });
    const remember = (session: HostSession): HostSession => {
      session.engine = engine;
      const { signal: _signal, ...rest } = options;
      session.options = rest;
      return session;
    };
    try {
      if (options.readOnlySocket !== undefined) {
        try {
          return remember(await HostSession.attach(connection, host, options, options.readOnlySocket, 'read-only'));
        } catch (err) {
          if (!unreachable(err)) throw err;
          options.debug?.(
            `${host}: the agent's read-only socket ${options.readOnlySocket} cannot be reached (${err instanceof Error ? err.message : String(err)}); using its admin socket ${options.agentSocket} (an agent older than the read-only socket, or an SSH account outside its group)`,
          );
        }
      }
      return remember(await HostSession.attach(connection, host, options, options.agentSocket, 'admin'));
    } catch (err) {
      await connection.close();
      throw err;
    }
  }

  /**
   * Whether the agent still answers through this session's connection
   * (GetInfo within `deadlineMs`). False after a dropped SSH connection;
   * true again after an agent restart once the forward reaches the new one.
   */
  async answers(deadlineMs: number, signal?: AbortSignal): Promise<boolean> {
    try {
      await unaryCall(this.clients.info, this.clients.info.getInfo, {}, { deadlineMs: Math.min(deadlineMs, this.callMs), signal });
      return true;
    } catch {
      signal?.throwIfAborted();
      return false;
    }
  }

  /**
   * Replaces the SSH connection and the agent's clients with new ones to the
   * same socket, checked like the first (API version, capabilities): after
   * a dropped connection, within the run. The old ones are closed first.
   * Everything that reads `connection`, `clients` and `call` afterwards uses
   * the new connection; streams and forwards of the old one are gone.
   */
  async reconnect(signal?: AbortSignal): Promise<void> {
    const { engine, options } = this;
    if (engine === undefined || options === undefined) throw new Error('internal: only a session made by HostSession.open can reconnect');
    this.current.clients.close();
    await this.current.connection.close().catch(() => undefined);
    const connection = await engine.connect(this.host, { signal });
    // Kept even if the agent does not answer yet (restarting): a revert can still remove files over it.
    const local = await connection.forwardToLocal(this.socket, { signal }).catch(async (err: unknown) => {
      await connection.close();
      throw err;
    });
    const clients = createAgentClients(`unix:${local}`, {}, options.operationId);
    this.current = { connection, clients, info: this.current.info };
    this.current.info = await HostSession.checkAgent(clients, this.host, { ...options, signal });
  }

  /** Forwards `socket`, asks the agent's Info and checks it; the clients are closed on failure. */
  private static async attach(connection: SshConnection, host: string, options: SessionOptions, socket: string, role: SessionRole): Promise<HostSession> {
    const local = await connection.forwardToLocal(socket, { signal: options.signal });
    const clients = createAgentClients(`unix:${local}`, {}, options.operationId);
    try {
      const info = await HostSession.checkAgent(clients, host, options);
      return new HostSession(host, connection, clients, info, options.callMs, options.agentSocket, socket, role);
    } catch (err) {
      clients.close();
      throw err;
    }
  }

  /** Asks the agent's Info and refuses an agent that cannot serve the operation (API version, capabilities). */
  private static async checkAgent(clients: AgentClients, host: string, options: SessionOptions): Promise<GetInfoResponse__Output> {
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
    return info;
  }

  /**
   * A unary call with the session's deadline; failures become KvmcloneErrors
   * naming the host. A call that reads a whole image (DigestImage) says how
   * many bytes (`readsBytes`): its deadline grows with them, so a large disk
   * is not cut off by a deadline meant for control calls.
   */
  async call<C extends grpc.Client, Req, Res>(client: C, method: UnaryMethod<Req, Res>, request: Req, signal?: AbortSignal, readsBytes = 0): Promise<Res> {
    try {
      return await unaryCall(client, method, request, { deadlineMs: this.callMs + readDeadlineMs(readsBytes), signal });
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
