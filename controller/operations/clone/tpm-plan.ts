/**
 * An emulated TPM's state in a clone: which swtpm files are copied, and
 * where they go on the destination.
 *
 * libvirt keeps a domain's swtpm state in `/var/lib/libvirt/swtpm/<uuid>/`
 * (or a directory the definition names): the directory follows the UUID, so
 * a clone — which gets a new UUID — has its state placed under the new one,
 * and a named directory is renamed like a disk. The files (a few KiB) move
 * on the same ticket-guarded agent-to-agent path as the disks and are
 * verified the same way; the destination agent makes the new directory
 * (PullImageRequest.make_parents), and libvirt hands it to swtpm's user at
 * the clone's first start. State encrypted with a libvirt secret is copied as
 * it is (still encrypted) only when the destination's libvirt has a vTPM
 * secret of the same UUID: kvmclone never reads or carries a secret's value,
 * and without it the clone's TPM could not be read. Until it is there the
 * clone is refused, saying how to define it.
 */
import { basename, dirname, join } from 'node:path';
import { failedPrecondition } from '../../../shared/errors.js';
import type { DescribeDomainResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import type { HostSession } from '../../transport/host-session.js';
import { targetFileName, type PlannedFile } from './clone-plan.js';

/** Who is cloned to whom, and what each agent may reach. */
export interface TpmPlanInput {
  vm: string;
  destVm: string;
  /** The clone's new UUID. */
  uuid: string;
  from: { host: string; imageRoots: readonly string[] };
  to: { host: string; imageRoots: readonly string[] };
  /** What the destination's libvirt has of the secret the state is encrypted with (DescribeSecret), when it is. */
  destSecret?: { defined: boolean; usageType: string };
}

/** The TPM part of a clone plan. */
export interface TpmPlan {
  files: PlannedFile[];
  /** The state directory on the destination when the definition names one (it is rewritten), else undefined. */
  namedStatePath?: string;
  warnings: string[];
}

/** FAILED_PRECONDITION unless every agent can carry TPM state (an older one lists no files: the state would be left behind). */
export function requireTpmState(sessions: readonly HostSession[], vm: string): void {
  for (const session of sessions) {
    if (!session.info.capabilities.includes('transfer.tpm-state')) {
      throw failedPrecondition(
        `${vm} has an emulated TPM, whose state kvmclone-agent ${session.info.agentVersion} on ${session.host} cannot carry (no transfer.tpm-state): upgrade it`,
      );
    }
  }
}

function under(path: string, roots: readonly string[]): boolean {
  return roots.some((r) => path === r || path.startsWith(`${r}/`));
}

/**
 * Plans the TPM state files; FAILED_PRECONDITION (before anything moves)
 * when the state is encrypted or lies outside either agent's image roots.
 */
export function planTpmState(source: DescribeDomainResponse__Output, input: TpmPlanInput): TpmPlan {
  const statePath = source.tpmStatePath;
  if (statePath === '') return { files: [], warnings: [] };
  const secret = source.tpmSecret;
  if (secret !== '' && !(input.destSecret?.defined === true && input.destSecret.usageType === 'vtpm')) {
    const found = input.destSecret?.defined === true ? ` (${input.to.host} has a secret ${secret}, but of usage '${input.destSecret.usageType}', not 'vtpm')` : '';
    throw failedPrecondition(
      `${input.vm}'s TPM state is encrypted with libvirt secret ${secret}, and ${input.to.host} lacks it${found}; kvmclone never carries a secret's value. On ${input.to.host}, define it with the same UUID and value: virsh secret-define a file holding <secret ephemeral='no' private='yes'><uuid>${secret}</uuid><usage type='vtpm'><name>${input.destVm}</name></usage></secret>, then virsh secret-set-value ${secret} with the value it has on ${input.from.host}; then clone again`,
    );
  }
  const root = dirname(statePath);
  for (const [side, label] of [
    [input.from, 'source'],
    [input.to, 'destination'],
  ] as const) {
    if (!under(statePath, side.imageRoots)) {
      throw failedPrecondition(
        `${input.vm} has an emulated TPM whose state is in ${statePath}, outside the image roots of the ${label} agent on ${side.host} (${side.imageRoots.join(', ')}); add ${root} to image_roots in its agent.yaml`,
      );
    }
  }
  const uuidNamed = basename(statePath) === source.domain?.uuid;
  const target = uuidNamed ? join(root, input.uuid) : join(root, targetFileName(statePath, input.vm, input.destVm));
  const warnings = source.tpmStateFiles.length === 0 ? [`the TPM of ${input.vm} has no state yet (never started): the clone's TPM starts empty`] : [];
  const files = source.tpmStateFiles.map((name): PlannedFile => ({
    role: 'tpm',
    label: `tpm ${name}`,
    sourcePath: join(statePath, name),
    targetPath: join(target, name),
    format: 'raw',
    virtualSize: 0,
    allocatedSize: 0,
    action: 'copy',
  }));
  return { files, warnings, ...(!uuidNamed && { namedStatePath: target }) };
}
