/**
 * An SshEngine whose "host" is this machine, for integration tests that run
 * the controller's sessions against an agent served in the test process: a
 * forward of a remote socket is that socket (a missing one fails at connect,
 * as with OpenSSH), and every command succeeds with no output. It records
 * what the tests check: how many connections were made and which sockets
 * were forwarded.
 */
import type { SshConnection, SshEngine } from '../../../controller/transport/ssh-engine.js';

/** The engine; one per test (or per run) so its counts are that test's own. */
export class LocalSshEngine implements SshEngine {
  readonly name = 'openssh' as const;
  /** The remote sockets forwarded so far, in order. */
  readonly forwarded: string[] = [];
  /** Connections made so far. */
  connects = 0;

  async connect(host: string): Promise<SshConnection> {
    this.connects += 1;
    const forwarded = this.forwarded;
    return {
      host,
      forwardToLocal: async (remote: string) => {
        forwarded.push(remote);
        return remote;
      },
      forwardToRemote: async () => undefined,
      cancelRemoteForward: async () => undefined,
      cancelLocalForward: async () => undefined,
      exec: async () => ({ code: 0, stdout: '', stderr: '' }),
      loginUser: () => undefined,
      close: async () => undefined,
    };
  }
}
