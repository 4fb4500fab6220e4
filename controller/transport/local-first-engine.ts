/**
 * An SshEngine that reaches a HOST naming the machine kvmctl runs on
 * directly (LocalConnection) and every other HOST through SSH: when kvmctl
 * runs on one of an operation's hosts, the data path has one SSH hop
 * instead of two (local-host.ts says how a host is recognised).
 */
import { isThisMachine } from './local-host.js';
import { LocalConnection } from './local-connection.js';
import type { SshConnection, SshEngine, SshSettings } from './ssh-engine.js';

/** Wraps `inner`; `settings` are the ones HOSTs are resolved with. */
export class LocalFirstEngine implements SshEngine {
  constructor(
    private readonly inner: SshEngine,
    private readonly settings: SshSettings,
  ) {}

  get name(): SshEngine['name'] {
    return this.inner.name;
  }

  async connect(host: string, options: { signal?: AbortSignal } = {}): Promise<SshConnection> {
    if (await isThisMachine(host, this.settings)) return new LocalConnection(host);
    return this.inner.connect(host, options);
  }
}
