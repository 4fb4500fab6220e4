/**
 * Messages between the ssh2 engine (controller main thread) and its worker
 * thread, which owns the SSH connection and every forwarded byte. Only
 * commands and results cross this boundary — never channel data — so the
 * main thread's event loop stays free for the controller's own gRPC work.
 */
import type { ResolvedHost } from './host-resolve.js';
import type { RemoteExecResult, SshFailureKind } from './ssh-engine.js';

/** What the worker needs to connect: the resolved target (with its hops) and engine settings. */
export interface ConnectPlan {
  /** HOST as the user gave it (errors name it). */
  readonly host: string;
  readonly target: ResolvedHost;
  /** Cipher preference from kvmctl's settings (the ssh config's Ciphers, if any, overrides per host). */
  readonly ciphers: readonly string[];
  /** Private directory for local sockets. */
  readonly runtimeDir: string;
}

/** Facts about an established connection, for logs and tests. */
export interface ConnectInfo {
  /** Negotiated client→server cipher, e.g. aes128-gcm@openssh.com. */
  readonly cipher: string;
  /** SHA256 fingerprint of the target's verified host key. */
  readonly hostKeyFingerprint: string;
  /** Whether ssh2's native crypto binding (sshcrypto.node) is loaded. */
  readonly nativeCrypto: boolean;
}

/** Requests from the main thread; `id` pairs each with its reply. */
export type WorkerRequest =
  | { readonly op: 'connect'; readonly id: number; readonly plan: ConnectPlan }
  | { readonly op: 'forwardToLocal'; readonly id: number; readonly remoteSocket: string; readonly at?: string }
  | { readonly op: 'closeLocal'; readonly id: number; readonly localSocket: string }
  | { readonly op: 'forwardToRemote'; readonly id: number; readonly remotePath: string; readonly localSocket: string; readonly hostRemoves: boolean }
  | { readonly op: 'cancelRemoteForward'; readonly id: number; readonly remotePath: string }
  | { readonly op: 'exec'; readonly id: number; readonly command: string; readonly input?: Uint8Array }
  | { readonly op: 'cancelExec'; readonly id: number; readonly execId: number }
  | { readonly op: 'close'; readonly id: number };

/** An SshError flattened for postMessage (class instances lose their prototype across threads). */
export interface WireError {
  readonly kind: SshFailureKind;
  readonly host: string;
  readonly message: string;
  readonly fingerprint?: string;
}

/** Value of a successful reply, by request. */
export type ReplyValue = ConnectInfo | RemoteExecResult | string | undefined;

/** Replies and events from the worker. */
export type WorkerReply =
  | { readonly type: 'ok'; readonly id: number; readonly value: ReplyValue }
  | { readonly type: 'error'; readonly id: number; readonly error: WireError }
  /** The connection dropped on its own (network, sshd restart, keepalive timeout). */
  | { readonly type: 'lost'; readonly error: WireError };
