/**
 * `virsh -c URI`, for what the `@unraid/libvirt` binding lacks: storage
 * pools, host facts, undefine flags, and all of live copies (backup jobs,
 * checkpoints, the guest agent). LibvirtAdapter and LibvirtLiveAdapter share
 * one runner, so every virsh run has the same URI, time limit and error
 * mapping (`libvirtFailure`).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../process/run-command.js';
import { libvirtFailure } from './libvirt-errors.js';
import type { PortCallOptions } from './libvirt-port.js';
import type { Logger } from 'pino';
import { whileLibvirtdRestarts } from './libvirtd-wait.js';

/** Time limit of one virsh run. */
const VIRSH_TIMEOUT_MS = 60_000;

/**
 * Runs virsh against one libvirtd. Failures come out as `libvirtFailure(err,
 * doing)`, so the libvirt-errors predicates (isNoDomain, isNoBackupJob, ...)
 * apply to them as to the binding's errors.
 */
export class VirshRunner {
  /** @param libvirtdWaitMs how long a run waits for a restarting libvirtd (libvirtd-wait.ts) */
  constructor(
    private readonly uri: string,
    private readonly libvirtdWaitMs = 0,
    private readonly log?: Logger,
  ) {}

  /** Runs `virsh -q -c URI args...` and resolves with its stdout; `doing` names the step in errors. */
  async run(doing: string, args: readonly string[], options?: PortCallOptions, timeoutMs = VIRSH_TIMEOUT_MS): Promise<string> {
    const once = async (): Promise<string> => {
      try {
        return await runCommand('virsh', ['-q', '-c', this.uri, ...args], { signal: options?.signal, timeoutMs });
      } catch (err) {
        throw libvirtFailure(err, doing);
      }
    };
    return whileLibvirtdRestarts(once, {
      waitMs: this.libvirtdWaitMs,
      signal: options?.signal,
      onRetry: (err, pauseMs, tries) => this.log?.warn({ err: String(err), doing, pauseMs, tries }, 'libvirtd unreachable: trying again'),
    });
  }

  /**
   * Runs virsh with XML documents (file name → text) written to 0600 files
   * in a private temp dir, removed afterwards: virsh takes XML only from
   * files, and a backup or checkpoint XML names the host's image paths.
   */
  async runWithFiles(doing: string, files: Record<string, string>, args: (paths: Record<string, string>) => string[], options?: PortCallOptions): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'kvmclone-virsh-'));
    try {
      const paths: Record<string, string> = {};
      for (const [name, text] of Object.entries(files)) {
        paths[name] = join(dir, name);
        await writeFile(paths[name], text, { mode: 0o600, flag: 'wx' });
      }
      return await this.run(doing, args(paths), options);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
