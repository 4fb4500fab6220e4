/**
 * VMs on backing chains, and what their images hold, inside a testbed host:
 * shared by the e2e tests of chains (chain.test.ts) and of --flatten
 * (flatten.test.ts).
 */
import { hostExec, TESTBED_DIR, IMAGES } from './testbed.js';
import { defineLines, testDomainXml } from './test-domain.js';

/**
 * A boot-sector VM whose qcow2 names its base by an absolute path (as
 * `virsh vol-create-as --backing-vol` and most tools write it): copied into
 * another directory, that reference would find the source's path, so the
 * clone must rebase it. With `middle`, the chain has three links: the top
 * on `<name>-mid.qcow2` on `<name>-base.qcow2`, each holding data of its own.
 */
export async function makeChainVm(host: string, name: string, options: { middle?: boolean } = {}): Promise<void> {
  const xml = testDomainXml(name, { disks: [{ file: `${IMAGES}/${name}.qcow2`, format: 'qcow2', target: 'vda' }], serialLog: true });
  const under = options.middle === true ? `${name}-mid` : `${name}-base`;
  await hostExec(host, [
    'bash',
    '-c',
    [
      'set -e',
      `cd ${IMAGES}`,
      `qemu-img convert -q -f raw -O qcow2 ${TESTBED_DIR}boot-sector.bin ${name}-base.qcow2`,
      `qemu-img resize -q -f qcow2 ${name}-base.qcow2 8M`,
      `qemu-io -f qcow2 -c 'write -P 0x62 1M 1M' ${name}-base.qcow2 >/dev/null`,
      ...(options.middle === true
        ? [`qemu-img create -q -f qcow2 -b ${IMAGES}/${name}-base.qcow2 -F qcow2 ${name}-mid.qcow2`, `qemu-io -f qcow2 -c 'write -P 0x6d 4M 512k' ${name}-mid.qcow2 >/dev/null`]
        : []),
      `qemu-img create -q -f qcow2 -b ${IMAGES}/${under}.qcow2 -F qcow2 ${name}.qcow2`,
      `qemu-io -f qcow2 -c 'write -P 0x6b 2M 256k' ${name}.qcow2 >/dev/null`,
      ...defineLines(name, xml),
    ].join('\n'),
  ]);
}

/** What `qemu-img info` (format stated) says of an image inside a host. */
export async function imageInfo(
  host: string,
  path: string,
): Promise<{ 'backing-filename'?: string; 'full-backing-filename'?: string; 'virtual-size': number; 'actual-size': number }> {
  return JSON.parse(await hostExec(host, ['qemu-img', 'info', '-U', '-f', 'qcow2', '--output=json', path])) as { 'virtual-size': number; 'actual-size': number };
}

/** sha256 of what the guest sees through the image's chain (converted to raw inside the host). */
export async function guestSha(host: string, path: string): Promise<string> {
  const out = await hostExec(host, ['bash', '-c', `set -e; t=$(mktemp); qemu-img convert -U -f qcow2 -O raw '${path}' "$t"; sha256sum < "$t" | cut -d' ' -f1; rm -f "$t"`]);
  return out.trim();
}

/** sha256 of a file's bytes inside a host. */
export async function sha(host: string, path: string): Promise<string> {
  return (await hostExec(host, ['bash', '-c', `sha256sum < '${path}' | cut -d' ' -f1`])).trim();
}
