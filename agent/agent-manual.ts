/**
 * The kvmclone-agent(8) man page: the agent's command line (cli-program.ts)
 * rendered with what an operator needs beyond it — the config file, the
 * sockets, the audit trail, the unit. Written out at build time by
 * scripts/gen-docs.mjs.
 */
import { renderManPage, type ManPageText } from '../shared/cli-docs/man-page.js';
import { buildAgentProgram } from './cli-program.js';

/** What kvmclone-agent(8) says beyond its commands. */
const AGENT_PAGE: ManPageText = {
  section: 8,
  description: [
    'kvmclone-agent runs on every KVM host, normally under systemd (kvmclone-agent.service). It serves the kvmclone gRPC API (kvmclone.agent.v1) on two unix sockets: the admin socket for every call, and a read-only socket for inventory, free space, extents, hashes and digests. It answers for libvirt inventory and lifecycle, and reads, hashes and writes disk images under its image roots only.',
    "Disk data moves between two agents directly, through a per-operation peer socket that kvmctl forwards over SSH, guarded by a ticket for exactly that operation's files.",
  ],
  sections: [
    {
      title: 'Exit status',
      items: [
        ['0', 'stopped cleanly (SIGTERM, SIGINT), or the command was done'],
        ['1', 'failed'],
        ['2', 'bad configuration or usage'],
      ],
    },
    {
      title: 'Files',
      items: [
        ['/etc/kvmclone/agent.yaml', 'configuration: image_roots, socket_group, socket_mode, memory.soft_limit, live.scratch_dir'],
        ['/run/kvmclone/agent.sock', 'the admin socket'],
        ['/run/kvmclone/agent-ro.sock', 'the read-only socket'],
        ['/var/log/kvmclone/audit.log', 'the audit trail of every mutating call'],
        ['/lib/systemd/system/kvmclone-agent.service', 'the unit; install-unit writes its ReadWritePaths drop-in from the image roots'],
      ],
    },
  ],
  seeAlso: ['kvmctl(1)', 'systemd.exec(5)', 'libvirtd(8)', 'qemu-img(1)'],
};

/** kvmclone-agent(8), dated `date` (YYYY-MM-DD). */
export const agentManPage = (date: string): string => renderManPage(buildAgentProgram, AGENT_PAGE, date);
