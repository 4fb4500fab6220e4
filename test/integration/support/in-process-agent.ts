/**
 * One agent served in this test process (startAgentServer) on a FakeLibvirt,
 * laid out as the integration tests lay out an agent: its image root and
 * scratch directory at `<home>/images`, its sockets in `<home>/run`. The
 * single-agent test files and the in-process pair (in-process-agents.ts)
 * start theirs with it, so they all serve the same way.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import type { FakeLibvirt } from '../../../agent/libvirt/fake-libvirt.js';
import { ImageRoots } from '../../../agent/paths/image-roots.js';
import { startAgentServer, type RunningAgentServer } from '../../../agent/server/agent-server.js';

/** A started agent and where it keeps its files. */
export interface InProcessAgent {
  server: RunningAgentServer;
  images: string;
  runtime: string;
  roots: ImageRoots;
}

/** Starts an agent on `libvirt` under `home` (its images directory made if missing); it logs nothing. */
export async function startInProcessAgent(home: string, libvirt: FakeLibvirt): Promise<InProcessAgent> {
  const images = join(home, 'images');
  const runtime = join(home, 'run');
  await mkdir(images, { recursive: true });
  const roots = await ImageRoots.open([images]);
  const server = await startAgentServer({
    log: pino({ level: 'silent' }),
    libvirt,
    roots,
    socket: join(runtime, 'agent.sock'),
    socketMode: 0o600,
    peerSocket: join(runtime, 'peer.sock'),
    scratchDir: images,
    freezeTimeoutMs: 1000,
  });
  return { server, images, runtime, roots };
}

/** A minimal domain named `name` for the fake libvirt, with `devices` (a <devices> element, or nothing). */
export function fakeDomainXml(name: string, devices = ''): string {
  return `<domain type='kvm'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os>${devices}</domain>`;
}
