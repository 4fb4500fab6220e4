/**
 * (Worker side.) Commands on a host over ssh2 exec channels, and how to
 * stop one. Closing an exec channel does not stop a command that has no tty,
 * and sshd refuses the SSH "signal" request for root sessions ("session
 * signalling requires privilege separation": sshd skips post-auth privsep
 * for root, and kvmclone hosts are reached as root). So each command
 * reports its PID first, on stderr (`exec` keeps that PID, and sshd made it
 * a session and process-group leader), and a cancel kills the group with
 * `kill` over a second channel: TERM, then KILL after a grace period.
 */
import { constants } from 'node:os';
import type { Client as Ssh2Client, ClientChannel } from 'ssh2';
import { SshError, commandLine, type RemoteExecResult } from './ssh-engine.js';

/** First stderr line of every command: the marker and the remote PID. Stripped before stderr is returned. */
const PID_MARK = 'kvmclone-remote-pid:';
/** Seconds between TERM and KILL when a command is cancelled. */
const KILL_GRACE_S = 5;

interface Running {
  readonly channel: ClientChannel;
  pid?: number;
  cancelled: boolean;
}

/** Runs and cancels commands on one connection. */
export class RemoteCommands {
  private readonly running = new Map<number, Running>();
  /** Cancelled before their channel opened. */
  private readonly early = new Set<number>();

  constructor(
    private readonly client: Ssh2Client,
    private readonly host: string,
  ) {}

  /**
   * Runs a (already quoted) command line with `input` on its stdin, or
   * stdin at EOF as `ssh host cmd </dev/null`. `id` lets cancel() find it
   * (0: not cancellable).
   */
  run(id: number, command: string, input?: Uint8Array): Promise<RemoteExecResult> {
    const wrapped = `printf '${PID_MARK}%s\\n' "$$" >&2; exec ${command}`;
    return new Promise((resolve, reject) => {
      this.client.exec(wrapped, (err, channel) => {
        if (err) return void reject(new SshError('other', this.host, `${this.host}: cannot run a command: ${err.message}`));
        const run: Running = { channel, cancelled: this.early.delete(id) };
        if (id !== 0 && !run.cancelled) this.running.set(id, run);
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let head: Buffer | undefined = Buffer.alloc(0); // stderr until the PID line is complete
        let code: number | undefined;
        let signal: string | undefined;
        channel.on('data', (b: Buffer) => out.push(b));
        channel.stderr.on('data', (b: Buffer) => {
          if (!head) return void errOut.push(b);
          head = Buffer.concat([head, b]);
          const nl = head.indexOf(10);
          if (nl === -1 && head.length < 64) return;
          const line = nl === -1 ? '' : head.subarray(0, nl).toString('latin1');
          if (line.startsWith(PID_MARK)) {
            run.pid = Number.parseInt(line.slice(PID_MARK.length), 10);
            errOut.push(head.subarray(nl + 1));
            if (run.cancelled) void this.kill(run.pid).then(() => channel.close());
          } else {
            errOut.push(head); // a login shell that printed first: keep it all
          }
          head = undefined;
        });
        channel.on('exit', (c: number | null, s?: string) => {
          if (typeof c === 'number') code = c;
          else signal = s?.replace(/^SIG/, '');
        });
        channel.on('close', () => {
          this.running.delete(id);
          if (head) errOut.push(head);
          // killed by a signal: 128 + its number, as a shell reports it
          const bySignal = signal ? 128 + ((constants.signals as Record<string, number>)[`SIG${signal}`] ?? 127) : 255;
          resolve({ code: code ?? bySignal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8') });
        });
        channel.end(input);
      });
    });
  }

  /**
   * Kills a command's process group and closes its channel; resolves once
   * TERM was sent. Before the PID is known, the kill happens when it arrives.
   */
  async cancel(id: number): Promise<void> {
    const run = this.running.get(id);
    this.running.delete(id);
    if (!run) return void this.early.add(id);
    run.cancelled = true;
    if (run.pid === undefined) return;
    await this.kill(run.pid);
    run.channel.close();
  }

  /** Cancels every running command (connection close). */
  async cancelAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.cancel(id)));
  }

  /** TERM to the group now; KILL after the grace period from a detached remote shell, so this returns at once. */
  private async kill(pid: number): Promise<void> {
    if (!Number.isInteger(pid) || pid <= 1) return;
    // `kill -SIG -PGID`, not `kill -SIG -- -PGID`: dash's kill rejects the `--`
    const script = `kill -TERM "-$1" 2>/dev/null || exit 0; ( sleep ${KILL_GRACE_S}; kill -KILL "-$1" 2>/dev/null ) </dev/null >/dev/null 2>&1 &`;
    await this.run(0, commandLine(['sh', '-c', script, 'sh', String(pid)])).catch(() => undefined);
  }
}
