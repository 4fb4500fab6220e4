// Original file: proto/kvmclone/agent/v1/domain.proto


export interface ShutdownDomainRequest {
  'name'?: (string);
  /**
   * Wait up to this long for the guest to power off; 0 returns at once after
   * the ACPI request. On timeout the call fails with DEADLINE_EXCEEDED and the
   * guest keeps running.
   */
  'waitSeconds'?: (number);
}

export interface ShutdownDomainRequest__Output {
  'name': (string);
  /**
   * Wait up to this long for the guest to power off; 0 returns at once after
   * the ACPI request. On timeout the call fails with DEADLINE_EXCEEDED and the
   * guest keeps running.
   */
  'waitSeconds': (number);
}
