// Original file: proto/kvmclone/agent/v1/info.proto

import type { Long } from '@grpc/proto-loader';

export interface HostFacts {
  'hostname'?: (string);
  /**
   * Architecture as libvirt names it, e.g. "x86_64".
   */
  'arch'?: (string);
  /**
   * CPU model as libvirt's host capabilities report it (e.g. "EPYC-Rome").
   */
  'cpuModel'?: (string);
  'cpuFeatures'?: (string)[];
  'cpus'?: (number);
  'memoryBytes'?: (number | string | Long);
  'freeMemoryBytes'?: (number | string | Long);
  /**
   * libvirt library version, e.g. "9.0.0".
   */
  'libvirtVersion'?: (string);
  /**
   * QEMU (hypervisor) version, e.g. "7.2.0".
   */
  'qemuVersion'?: (string);
  'kernelRelease'?: (string);
  /**
   * CPU models the hypervisor can give a guest on this host (libvirt
   * domcapabilities, custom mode, usable='yes'); a VM with a named model can
   * run here only if its model is listed.
   */
  'usableCpuModels'?: (string)[];
  /**
   * Whether this host can run KVM guests (domain type 'kvm').
   */
  'kvm'?: (boolean);
}

export interface HostFacts__Output {
  'hostname': (string);
  /**
   * Architecture as libvirt names it, e.g. "x86_64".
   */
  'arch': (string);
  /**
   * CPU model as libvirt's host capabilities report it (e.g. "EPYC-Rome").
   */
  'cpuModel': (string);
  'cpuFeatures': (string)[];
  'cpus': (number);
  'memoryBytes': (number);
  'freeMemoryBytes': (number);
  /**
   * libvirt library version, e.g. "9.0.0".
   */
  'libvirtVersion': (string);
  /**
   * QEMU (hypervisor) version, e.g. "7.2.0".
   */
  'qemuVersion': (string);
  'kernelRelease': (string);
  /**
   * CPU models the hypervisor can give a guest on this host (libvirt
   * domcapabilities, custom mode, usable='yes'); a VM with a named model can
   * run here only if its model is listed.
   */
  'usableCpuModels': (string)[];
  /**
   * Whether this host can run KVM guests (domain type 'kvm').
   */
  'kvm': (boolean);
}
