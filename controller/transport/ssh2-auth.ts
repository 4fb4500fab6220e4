/**
 * (Worker side.) Which keys the ssh2 engine offers, in OpenSSH's order:
 * ssh-agent keys first (only those matching an identity file when
 * IdentitiesOnly is set), then identity files the agent does not hold.
 * Missing files are skipped quietly; a passphrase-protected file is never
 * prompted for (kvmctl runs like BatchMode) but named in the failure
 * message, with the fix (ssh-add), when nothing else gets in.
 */
import { readFile, stat } from 'node:fs/promises';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, IdentityCallback, ParsedKey } from 'ssh2';
import type { ResolvedHost } from './host-resolve.js';
import { formatHostPort } from './host-spec.js';
import { SshError } from './ssh-engine.js';

/** What will be offered to one host, and what could not be. */
export interface AuthPlan {
  readonly methods: readonly AnyAuthMethod[];
  /** Human descriptions of what is offered, for the failure message. */
  readonly offered: readonly string[];
  /** Passphrase-protected key files that the agent does not hold. */
  readonly encrypted: readonly string[];
  /** Other unusable files (unreadable, not a key), with why. */
  readonly unusable: readonly string[];
  /** Why the agent was not used, if it was configured but failed. */
  readonly agentProblem?: string;
}

/** An agent whose identity list is fixed in advance (filtered for IdentitiesOnly); signing still goes to the real agent. */
class ListedAgent extends ssh2.OpenSSHAgent {
  constructor(
    socketPath: string,
    private readonly keys: ParsedKey[],
  ) {
    super(socketPath);
  }
  override getIdentities(cb: IdentityCallback<ParsedKey>): void {
    cb(undefined, this.keys);
  }
}

const AGENT_TIMEOUT_MS = 5_000;

function agentKeys(socketPath: string): Promise<ParsedKey[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${AGENT_TIMEOUT_MS / 1000} s`)), AGENT_TIMEOUT_MS);
    new ssh2.OpenSSHAgent(socketPath).getIdentities((err, keys) => {
      clearTimeout(timer);
      if (err) reject(err);
      // OpenSSHAgent yields parsed keys; the typings also allow other shapes
      else resolve((keys ?? []).filter((k): k is ParsedKey => typeof k === 'object' && 'getPublicSSH' in k));
    });
  });
}

interface FileKey {
  readonly file: string;
  readonly key?: ParsedKey;
  /** Public blob (from the key itself or FILE.pub), to match agent keys. */
  readonly blob?: Buffer;
  readonly encrypted: boolean;
}

async function loadFileKey(file: string, unusable: string[]): Promise<FileKey | undefined> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') unusable.push(`${file} (${code ?? (err as Error).message})`);
    return undefined;
  }
  const parsed = ssh2.utils.parseKey(data);
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
  if (key && !(key instanceof Error) && key.isPrivateKey()) return { file, key, blob: key.getPublicSSH(), encrypted: false };
  const message = key instanceof Error ? key.message : 'not a private key';
  if (!/encrypt|passphrase/i.test(message)) {
    unusable.push(`${file} (${message})`);
    return undefined;
  }
  let blob: Buffer | undefined;
  try {
    const pub = ssh2.utils.parseKey(await readFile(`${file}.pub`));
    if (!(pub instanceof Error) && !Array.isArray(pub)) blob = pub.getPublicSSH();
  } catch {
    // no FILE.pub: the key can only be used if the agent holds it, and we cannot tell which agent key it is
  }
  return { file, ...(blob ? { blob } : {}), encrypted: true };
}

/** Loads the agent's and the identity files' keys for `host` and orders them. */
export async function planAuth(host: ResolvedHost): Promise<AuthPlan> {
  const unusable: string[] = [];
  const files = (await Promise.all(host.identityFiles.map((f) => loadFileKey(f, unusable)))).filter((k): k is FileKey => k !== undefined);
  const offered: string[] = [];
  const methods: AnyAuthMethod[] = [];
  let agentProblem: string | undefined;
  let held: ParsedKey[] = [];
  const socket = host.identityAgent;
  if (socket) {
    try {
      if (!(await stat(socket)).isSocket()) throw new Error('not a socket');
      held = await agentKeys(socket);
      if (host.identitiesOnly) held = held.filter((k) => files.some((f) => f.blob?.equals(k.getPublicSSH())));
      if (held.length > 0) {
        methods.push({ type: 'agent', username: host.user, agent: new ListedAgent(socket, held) });
        offered.push(`${held.length} key(s) from ssh-agent ${socket}`);
      }
    } catch (err) {
      agentProblem = `ssh-agent ${socket} not usable: ${(err as Error).message}`;
      held = [];
    }
  }
  for (const f of files) {
    if (f.blob && held.some((k) => k.getPublicSSH().equals(f.blob!))) continue; // offered through the agent
    if (f.key) {
      methods.push({ type: 'publickey', username: host.user, key: f.key });
      offered.push(f.file);
    }
  }
  const encrypted = files.filter((f) => f.encrypted && !(f.blob && held.some((k) => k.getPublicSSH().equals(f.blob!)))).map((f) => f.file);
  return { methods, offered, encrypted, unusable, ...(agentProblem ? { agentProblem } : {}) };
}

/** The sentence for a failed (or impossible) authentication. */
export function authFailure(host: ResolvedHost, plan: AuthPlan, reason: string): SshError {
  const parts = [`${host.alias} (${formatHostPort(host.hostName, host.port)}): authentication as ${host.user} ${reason}`];
  parts.push(plan.offered.length > 0 ? `offered: ${plan.offered.join(', ')}` : `no key to offer (identity files tried: ${host.identityFiles.join(', ') || 'none'})`);
  if (plan.encrypted.length > 0) {
    parts.push(
      `${plan.encrypted.join(', ')} ${plan.encrypted.length > 1 ? 'are' : 'is'} passphrase-protected and kvmctl never prompts: load ${plan.encrypted.length > 1 ? 'them' : 'it'} into ssh-agent with ssh-add`,
    );
  }
  if (plan.unusable.length > 0) parts.push(`unusable: ${plan.unusable.join(', ')}`);
  if (plan.agentProblem) parts.push(plan.agentProblem);
  else if (!host.identityAgent) parts.push('no ssh-agent (SSH_AUTH_SOCK unset or IdentityAgent none)');
  return new SshError('auth', host.spec, `${parts.join('; ')}.`);
}
