/**
 * `node dist/test/support/list-vms-cli.js HOST...` — lists the VMs of testbed
 * hosts through their agents' API over SSH forwards (used by scripts/demo).
 */
import { createAgentClients, unaryCall } from '../../shared/agent-clients.js';
import { forwardAgentSocket } from './testbed.js';

const GiB = 1024 ** 3;

for (const host of process.argv.slice(2)) {
  const forward = await forwardAgentSocket(host);
  const clients = createAgentClients(`unix:${forward.localSocket}`);
  try {
    const opts = { deadlineMs: 30_000 };
    const info = await unaryCall(clients.info, clients.info.getInfo, {}, opts);
    const { domains } = await unaryCall(clients.domain, clients.domain.listDomains, {}, opts);
    console.log(`${host}: agent ${info.agentVersion}, API ${info.apiVersions.join(',')}, libvirt ${info.host?.libvirtVersion}, QEMU ${info.host?.qemuVersion}, ${info.host?.cpus} vCPUs`);
    console.log(`  ${'NAME'.padEnd(16)} ${'STATE'.padEnd(10)} DISKS`);
    for (const d of domains) {
      const described = await unaryCall(clients.domain, clients.domain.describeDomain, { name: d.name }, opts);
      const disks = described.disks.map((k) => `${k.target} ${k.format} ${(k.virtualSize / GiB).toFixed(2)} GiB (${(k.allocatedSize / 1024).toFixed(0)} KiB used) ${k.path}`);
      console.log(`  ${d.name.padEnd(16)} ${d.state.replace('DOMAIN_STATE_', '').toLowerCase().padEnd(10)} ${disks.join('; ')}`);
    }
  } finally {
    clients.close();
    await forward.close();
  }
}
