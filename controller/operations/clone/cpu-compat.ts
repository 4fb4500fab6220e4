/**
 * Can the destination run this VM's CPU? Checked before any byte moves, so a
 * clone that would define but never start (harvester#3015) is refused with
 * the reason instead.
 */
import { failedPrecondition } from '../../../shared/errors.js';
import type { HostFacts__Output } from '../../../shared/generated/kvmclone/agent/v1/HostFacts.js';

/** The CPU-relevant parts of the VM's definition. */
export interface VmCpu {
  /** "host-model", "host-passthrough", "maximum", "custom" or "" (no <cpu>). */
  mode: string;
  /** Named model of custom mode, or "". */
  model: string;
  /** Domain type: "kvm" or "qemu" (TCG). */
  domainType: string;
}

/** Returns warnings (possibly none) or throws FAILED_PRECONDITION saying why the destination cannot run the VM. */
export function checkCpuCompatibility(vm: VmCpu, source: HostFacts__Output, dest: HostFacts__Output, destHost: string): string[] {
  const warnings: string[] = [];
  if (source.arch && dest.arch && source.arch !== dest.arch) {
    throw failedPrecondition(`${destHost} is ${dest.arch} but the VM runs on ${source.arch}`);
  }
  if (vm.domainType === 'kvm' && !dest.kvm) {
    throw failedPrecondition(`${destHost} cannot run KVM guests (no kvm domain type in its libvirt capabilities)`);
  }
  switch (vm.mode) {
    case 'host-passthrough':
    case 'maximum': {
      const missing = source.cpuFeatures.filter((f) => !dest.cpuFeatures.includes(f));
      if (source.cpuModel !== dest.cpuModel || missing.length > 0) {
        const detail = missing.length > 0 ? `; it lacks ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}` : '';
        throw failedPrecondition(
          `the VM uses CPU mode ${vm.mode}, which hands the guest the host CPU as it is: the source host has ${source.cpuModel}, ${destHost} has ${dest.cpuModel}${detail}. ` +
            'Switch the VM to host-model or a named model both hosts support.',
        );
      }
      break;
    }
    case 'custom':
      if (vm.model === '') break;
      if (dest.usableCpuModels.length === 0) {
        warnings.push(`${destHost} did not report its usable CPU models; CPU model ${vm.model} could not be checked`);
      } else if (!dest.usableCpuModels.includes(vm.model)) {
        // libvirt's "usable" is judged against what the host can give a guest; where the source does not
        // list the model either and the VM runs there anyway (check='none', emulated features), the two
        // hosts are alike and the destination will do the same.
        if (source.usableCpuModels.includes(vm.model) || source.cpuModel !== dest.cpuModel) {
          throw failedPrecondition(`CPU model ${vm.model} is not usable on ${destHost} (usable there: ${dest.usableCpuModels.join(', ')})`);
        }
        warnings.push(`CPU model ${vm.model} is not listed as usable on either host (both are ${dest.cpuModel}); the clone will run as the source does`);
      }
      break;
    default:
      // host-model and no <cpu> element: libvirt picks what the destination offers.
      break;
  }
  return warnings;
}
