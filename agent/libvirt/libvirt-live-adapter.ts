/**
 * The real LibvirtLivePort: backup jobs in pull mode, checkpoints and the
 * guest agent's freeze, all through virsh (the `@unraid/libvirt` binding has
 * none of them). virsh is given the domain's UUID, never its name (it would
 * take a name such as "12" as a running domain's ID), and XML documents in
 * 0600 files of a private temp dir.
 *
 * LibvirtAdapter extends this class and supplies what it works with: its
 * virsh runner, its UUID lookup on the binding's connection and its cached
 * domain capabilities.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { KvmcloneError, failedPrecondition } from '../../shared/errors.js';
import { backupSupportedIn, parseBackupXml, parseCheckpointList, parseCheckpointXml, parseDomainJobStats, validCheckpointName } from './backup-xml.js';
import { isDomainNotRunning, isNoActiveJob, isNoBackupJob } from './libvirt-errors.js';
import type { BackupJobRecord, CheckpointRecord, CheckpointSummary, DomainJobRecord, LibvirtLivePort, LiveCallArgs, PortCallOptions } from './libvirt-port.js';
import type { VirshRunner } from './virsh-runner.js';

/** Longest wait, after an abort, for libvirt to end a backup job (its NBD server and scratch files go with it). */
const JOB_END_TIMEOUT_MS = 30_000;
/** How often an ending job is looked at. */
const JOB_END_POLL_MS = 50;

/**
 * LibvirtLivePort on a real libvirtd, through virsh. Abstract: LibvirtAdapter
 * is the one subclass, so that both halves use one connection, one virsh and
 * one cache.
 */
export abstract class LibvirtLiveAdapter implements LibvirtLivePort {
  protected abstract readonly virsh: VirshRunner;
  protected abstract readonly log: Logger;
  /** The UUID virsh is given for a domain; `doing` names the step in errors. */
  protected abstract domainUuid(name: string, doing: string, options?: PortCallOptions): Promise<string>;
  /** `virsh domcapabilities` ('' where the driver has none), cached with the host's other static facts. */
  protected abstract domainCapabilities(options?: PortCallOptions): Promise<string>;

  async backupSupported(options?: PortCallOptions): Promise<boolean> {
    return backupSupportedIn(await this.domainCapabilities(options));
  }

  private async jobOf(uuid: string, doing: string, options?: PortCallOptions): Promise<DomainJobRecord | undefined> {
    try {
      return parseDomainJobStats(await this.virsh.run(doing, ['domjobinfo', '--domain', uuid, '--rawstats'], options));
    } catch (err) {
      if (isDomainNotRunning(err)) return undefined;
      throw err;
    }
  }

  async domainJob(domain: string, options?: PortCallOptions): Promise<DomainJobRecord | undefined> {
    const doing = `read the job of domain '${domain}'`;
    return this.jobOf(await this.domainUuid(domain, doing, options), doing, options);
  }

  /**
   * A second backup-begin would wait 30 s for libvirt's job lock and then
   * fail ("cannot acquire state change lock"): a running job is refused at
   * once instead (ABORTED either way).
   */
  async backupBegin(domain: string, backupXml: string, checkpointXml: string | undefined, options?: PortCallOptions): Promise<BackupJobRecord> {
    const doing = `begin a backup of domain '${domain}'`;
    const uuid = await this.domainUuid(domain, doing, options);
    const running = await this.jobOf(uuid, doing, options);
    if (running) {
      throw new KvmcloneError('ABORTED', `${doing}: a ${running.operation} job runs on it already (for ${Math.round(running.elapsedMs / 1000)} s); a domain has one job at a time`);
    }
    const files: Record<string, string> = { 'backup.xml': backupXml };
    if (checkpointXml !== undefined) files['checkpoint.xml'] = checkpointXml;
    await this.virsh.runWithFiles(
      doing,
      files,
      (p) => ['backup-begin', '--domain', uuid, '--backupxml', p['backup.xml'], ...(p['checkpoint.xml'] ? ['--checkpointxml', p['checkpoint.xml']] : [])],
      options,
    );
    try {
      const job = await this.backupJobOf(uuid, doing);
      if (job) return job;
      throw new KvmcloneError('ABORTED', `${doing}: the job ended as soon as it began (QEMU stopped?)`);
    } catch (err) {
      // The caller never learns of a job it was not handed: end it here.
      await this.abortBackupJob(uuid, domain).catch((e: unknown) => this.log.error({ err: e, domain }, 'could not end a backup job whose description could not be read'));
      throw err;
    }
  }

  private async backupJobOf(uuid: string, doing: string, options?: PortCallOptions): Promise<BackupJobRecord | undefined> {
    try {
      return parseBackupXml(await this.virsh.run(doing, ['backup-dumpxml', '--domain', uuid], options));
    } catch (err) {
      if (isNoBackupJob(err)) return undefined;
      throw err;
    }
  }

  async backupJob(domain: string, options?: PortCallOptions): Promise<BackupJobRecord | undefined> {
    const doing = `read the backup job of domain '${domain}'`;
    return this.backupJobOf(await this.domainUuid(domain, doing, options), doing, options);
  }

  async abortJob(domain: string, options?: PortCallOptions): Promise<boolean> {
    const doing = `end the backup job of domain '${domain}'`;
    return this.abortBackupJob(await this.domainUuid(domain, doing, options), domain, options);
  }

  /**
   * domjobabort returns before the job is over: libvirt cancels QEMU's block
   * jobs and finishes (NBD server stopped, scratch files deleted) when they
   * report back. So wait until backup-dumpxml finds no job.
   */
  private async abortBackupJob(uuid: string, domain: string, options?: PortCallOptions): Promise<boolean> {
    const doing = `end the backup job of domain '${domain}'`;
    const job = await this.jobOf(uuid, doing, options);
    if (!job) return false;
    if (job.operation !== 'backup') throw failedPrecondition(`${doing}: the job running on it is a ${job.operation} job, not a backup; it is left alone`);
    try {
      await this.virsh.run(doing, ['domjobabort', '--domain', uuid], options);
    } catch (err) {
      if (isNoActiveJob(err) || isDomainNotRunning(err)) return false;
      throw err;
    }
    const deadline = Date.now() + JOB_END_TIMEOUT_MS;
    while ((await this.backupJobOf(uuid, doing, options)) !== undefined) {
      if (Date.now() > deadline) throw new KvmcloneError('DEADLINE_EXCEEDED', `${doing}: the job was aborted but has not ended after ${JOB_END_TIMEOUT_MS / 1000} s`);
      await sleep(JOB_END_POLL_MS, undefined, { signal: options?.signal });
    }
    return true;
  }

  async listCheckpoints(domain: string, options?: PortCallOptions): Promise<CheckpointSummary[]> {
    const doing = `list the checkpoints of domain '${domain}'`;
    const uuid = await this.domainUuid(domain, doing, options);
    return parseCheckpointList(await this.virsh.run(doing, ['checkpoint-list', '--domain', uuid, '--parent', '--topological'], options));
  }

  private async dumpCheckpoint(extra: string[], ...[domain, name, options]: LiveCallArgs<'checkpointXml'>): Promise<string> {
    const doing = `read checkpoint '${name}' of domain '${domain}'`;
    validCheckpointName(name);
    const uuid = await this.domainUuid(domain, doing, options);
    return this.virsh.run(doing, ['checkpoint-dumpxml', '--domain', uuid, '--checkpointname', name, ...extra, ...(options?.size ? ['--size'] : [])], options);
  }

  async checkpointXml(...[domain, name, options]: LiveCallArgs<'checkpointXml'>): Promise<string> {
    return this.dumpCheckpoint([], domain, name, options);
  }

  async getCheckpoint(...[domain, name, options]: LiveCallArgs<'getCheckpoint'>): Promise<CheckpointRecord> {
    return parseCheckpointXml(await this.dumpCheckpoint(['--no-domain'], domain, name, options));
  }

  async deleteCheckpoint(...[domain, name, options]: LiveCallArgs<'deleteCheckpoint'>): Promise<void> {
    const doing = `delete checkpoint '${name}' of domain '${domain}'${options?.metadataOnly ? ' (metadata only)' : ''}`;
    validCheckpointName(name);
    const uuid = await this.domainUuid(domain, doing, options);
    await this.virsh.run(doing, ['checkpoint-delete', '--domain', uuid, '--checkpointname', name, ...(options?.metadataOnly ? ['--metadata'] : [])], options);
  }

  async redefineCheckpoint(...[domain, xml, options]: LiveCallArgs<'redefineCheckpoint'>): Promise<void> {
    const name = validCheckpointName(parseCheckpointXml(xml).name, 'checkpoint XML <name>');
    const doing = `redefine checkpoint '${name}' of domain '${domain}'`;
    const uuid = await this.domainUuid(domain, doing, options);
    const validate = options?.validate ?? true;
    await this.virsh.runWithFiles(
      doing,
      { 'checkpoint.xml': xml },
      (p) => ['checkpoint-create', '--domain', uuid, '--xmlfile', p['checkpoint.xml'], '--redefine', ...(validate ? ['--redefine-validate'] : [])],
      options,
    );
  }

  /**
   * virsh is killed at the deadline, but libvirtd cannot take back a command
   * sent to the guest agent: the freeze may still happen after
   * DEADLINE_EXCEEDED.
   */
  private async guestAgent(verb: 'domfsfreeze' | 'domfsthaw', domain: string, timeoutMs: number, options?: PortCallOptions): Promise<number> {
    const doing = `${verb === 'domfsfreeze' ? 'freeze' : 'thaw'} the filesystems of domain '${domain}'`;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = options?.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    try {
      const uuid = await this.domainUuid(domain, doing, { signal });
      const out = await this.virsh.run(doing, [verb, '--domain', uuid], { signal }, timeoutMs + 5_000);
      return Number(/(\d+) filesystem/.exec(out)?.[1] ?? 0);
    } catch (err) {
      if (deadline.aborted && !options?.signal?.aborted) {
        throw new KvmcloneError('DEADLINE_EXCEEDED', `${doing}: the guest agent did not answer within ${timeoutMs} ms (libvirt may still carry the command out)`, { cause: err });
      }
      throw err;
    }
  }

  async fsFreeze(domain: string, timeoutMs: number, options?: PortCallOptions): Promise<number> {
    return this.guestAgent('domfsfreeze', domain, timeoutMs, options);
  }

  async fsThaw(domain: string, timeoutMs: number, options?: PortCallOptions): Promise<number> {
    return this.guestAgent('domfsthaw', domain, timeoutMs, options);
  }
}
