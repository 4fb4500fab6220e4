/**
 * A throwaway libvirtd (../libvirt-sandbox.sh) for the adapter's live-copy
 * tests (libvirt-backup-*.test.ts), with running guests: VM, the boot sector
 * that prints "HI" on vda (qcow2), a 64 MiB qcow2 v3 data disk vdb and a
 * 16 MiB raw disk vdc; and VM_AGENT, with a guest-agent channel but no agent
 * in the guest. KVM when /dev/kvm exists, else TCG. Guest writes are made
 * from the host with qemu-io in the QEMU monitor; the NBD exports are read
 * with qemu-img and qemu-io. Needs root, libvirtd, QEMU and qemu-utils.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCb, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { buildBackupXml } from '../../../agent/libvirt/backup-xml.js';
import { LibvirtAdapter } from '../../../agent/libvirt/libvirt-adapter.js';
import { checkpointXml as threeDiskCheckpointXml } from '../../support/fake-live-domain.js';
import { BOOT_SECTOR, missingSandboxPrerequisite, sandboxDownLeavingNothing, sandboxUp } from './libvirt-sandbox.js';

const execFile = promisify(execFileCb);
/** Why the tests cannot run here, if they cannot: their `skip` option. */
export const skip = missingSandboxPrerequisite(['qemu-io']);

export const VM = 'it-bk';
/** A domain with a guest-agent channel but no agent in the guest. */
export const VM_AGENT = 'it-agent';
export const MiB = 1024 * 1024;

function domainXml(images: string, name: string, disks: string, extra = ''): string {
  return `<domain type='${existsSync('/dev/kvm') ? 'kvm' : 'qemu'}'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
${disks}
    <serial type='file'><source path='${join(images, `${name}-serial.log`)}'/><target port='0'/></serial>
${extra}
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>`;
}

function disk(images: string, file: string, format: string, target: string): string {
  return `    <disk type='file' device='disk'><driver name='qemu' type='${format}'/><source file='${join(images, file)}'/><target dev='${target}' bus='virtio'/></disk>`;
}

async function waitForSerial(images: string, name: string): Promise<void> {
  let output = '';
  for (let i = 0; i < 100 && !output.includes('HI'); i++) {
    await sleep(100);
    output = await readFile(join(images, `${name}-serial.log`), 'utf8').catch(() => '');
  }
  assert.match(output, /HI/, `${name}: the boot sector ran`);
}

/** The sandbox and its domains, filled in before the file's tests. */
export class BackupSandbox {
  tmp = '';
  /** The libvirtd sandbox's directory (libvirt-sandbox.sh). */
  dir = '';
  images = '';
  scratch = '';
  sockets = '';
  uri = '';
  adapter!: LibvirtAdapter;

  /** Brings libvirtd up and starts VM (and VM_AGENT with `agentVm`), then waits for VM's boot sector. */
  async start(agentVm: boolean): Promise<void> {
    this.tmp = await mkdtemp('/tmp/kvmclone-lvb-');
    this.dir = join(this.tmp, 'sandbox');
    this.images = join(this.tmp, 'images');
    this.scratch = join(this.tmp, 'scratch');
    this.sockets = join(this.tmp, 'nbd');
    await Promise.all([mkdir(this.images), mkdir(this.scratch), mkdir(this.sockets)]);
    this.uri = await sandboxUp(this.dir);
    this.adapter = new LibvirtAdapter({ uri: this.uri, log: pino({ level: 'silent' }) });
    const images = this.images;
    for (const name of ['vda.qcow2', 'agent.qcow2']) {
      execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', BOOT_SECTOR, join(images, name)]);
      // SeaBIOS does not boot a 512-byte disk
      execFileSync('qemu-img', ['resize', '-q', '-f', 'qcow2', join(images, name), '1M']);
    }
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compat=1.1', join(images, 'vdb.qcow2'), '64M']);
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', join(images, 'vdc.raw'), '16M']);
    await this.adapter.defineDomain(
      domainXml(images, VM, [disk(images, 'vda.qcow2', 'qcow2', 'vda'), disk(images, 'vdb.qcow2', 'qcow2', 'vdb'), disk(images, 'vdc.raw', 'raw', 'vdc')].join('\n')),
    );
    if (agentVm) {
      const channel = `    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>`;
      await this.adapter.defineDomain(domainXml(images, VM_AGENT, disk(images, 'agent.qcow2', 'qcow2', 'vda'), channel));
    }
    await this.adapter.startDomain(VM);
    if (agentVm) await this.adapter.startDomain(VM_AGENT);
    await waitForSerial(images, VM);
  }

  /** Takes libvirtd down and fails when a process of the sandbox is left behind. */
  async stop(): Promise<void> {
    if (this.tmp === '') return;
    await this.adapter?.close();
    await sandboxDownLeavingNothing(this.dir, this.tmp);
  }

  virsh(...args: string[]): Promise<string> {
    return execFile('virsh', ['-q', '-c', this.uri, ...args]).then((r) => r.stdout);
  }

  /** A guest write, from the host: qemu-io on the disk's virtio backend (the node name is refused with a permission conflict). */
  async guestWrite(qdevId: string, pattern: number, offset: string, length: string): Promise<void> {
    const out = await this.virsh('qemu-monitor-command', VM, '--hmp', `qemu-io -d /machine/peripheral/${qdevId}/virtio-backend "write -P ${pattern} ${offset} ${length}"`);
    assert.doesNotMatch(out, /error|failed/i, out);
  }

  /** The job for vda and vdb (qcow2): one scratch file each; vdc (raw) is left out. */
  backupXml(socket: string, incremental: string, tag: string): string {
    return buildBackupXml({
      socket,
      incremental,
      disks: [
        { target: 'vda', scratch: join(this.scratch, `${tag}.vda.qcow2`) },
        { target: 'vdb', scratch: join(this.scratch, `${tag}.vdb.qcow2`) },
      ],
      skip: ['vdc'],
    });
  }
}

/** The sandbox for the calling test file (VM_AGENT too with `agentVm`): up before its tests unless they are skipped, down after them. */
export function useBackupSandbox(options: { agentVm: boolean }): BackupSandbox {
  const sandbox = new BackupSandbox();
  before(async () => {
    if (skip) return;
    await sandbox.start(options.agentVm);
  });
  after(async () => {
    if (skip) return;
    await sandbox.stop();
  });
  return sandbox;
}

export const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

/** A checkpoint `name` of VM's vda and vdb (and of its raw vdc too when `rawToo`), described as this suite's. */
export const checkpointXml = (name: string, rawToo = false): string => threeDiskCheckpointXml(name, rawToo, 'kvmclone integration test');

/** qemu-img map of an NBD export: [start, length, data] per extent. */
export async function nbdMap(socket: string, exportName: string, dirtyBitmap?: string): Promise<Array<[number, number, boolean]>> {
  const args = dirtyBitmap
    ? ['map', '--output=json', '--image-opts', `driver=nbd,export=${exportName},server.type=unix,server.path=${socket},x-dirty-bitmap=qemu:dirty-bitmap:${dirtyBitmap}`]
    : ['map', '--output=json', '-f', 'raw', `nbd+unix:///${exportName}?socket=${socket}`];
  const { stdout } = await execFile('qemu-img', args);
  return (JSON.parse(stdout) as Array<{ start: number; length: number; data: boolean; present: boolean }>).map((e) => [e.start, e.length, dirtyBitmap ? !e.present : e.data]);
}

/** qemu-io reads `length` at `offset` of an export and checks every byte is `pattern`. */
export async function nbdHasPattern(socket: string, exportName: string, pattern: number, offset: string, length: string): Promise<boolean> {
  const { stdout } = await execFile('qemu-io', ['-r', '-f', 'raw', '-c', `read -P ${pattern} ${offset} ${length}`, `nbd+unix:///${exportName}?socket=${socket}`]).catch(
    (e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }),
  );
  return /read \d+\/\d+ bytes/.test(stdout) && !/Pattern verification failed/.test(stdout);
}
