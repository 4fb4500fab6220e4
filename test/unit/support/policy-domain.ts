/** Domain XML for the domain policy tests (domain-policy-*.test.ts). */

/** A minimal domain around `devices` (and `head`: extra children of <domain>). */
export function domain(devices: string, head = ''): string {
  return `<domain type='kvm'><name>p</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type></os>${head}<devices>${devices}</devices></domain>`;
}
