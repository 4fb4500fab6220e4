/**
 * A real agent process whose libvirt is the test driver loaded from a node
 * file, for the tests that run the built kvmctl against it as host `local`
 * (delete-vm.test.ts, exit-codes.test.ts): the node file's domains, and the
 * agent started on it with its sockets under `<dir>/run`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnAgent, waitForSocket, type AgentProcess } from '../../support/agent-process.js';

/** A <domain> of the node file: `devices` its devices, `runstate` the test driver's state (1 running, 5 shut off). */
export const testDriverDomain = (name: string, uuid: string, devices: string, runstate: number): string => `
  <domain type='kvm'><name>${name}</name><uuid>${uuid}</uuid>
    <memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
    <devices>${devices}</devices><test:runstate>${runstate}</test:runstate></domain>`;

/**
 * Writes `<dir>/node.xml` (a two-CPU, 8 GiB host holding `domains`), starts an agent on it with `images` as its
 * image root and waits for both its sockets: the agent, and the kvmctl flags that reach it.
 */
export async function startTestDriverAgent(dir: string, images: string, domains: string): Promise<{ agent: AgentProcess; socketFlags: string[] }> {
  const node = `<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <cpu><mhz>2000</mhz><model>x86_64</model><active>2</active><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads></cpu>
  <memory>8388608</memory>
  ${domains}
</node>`;
  await writeFile(join(dir, 'node.xml'), node);
  const run = join(dir, 'run');
  const agent = spawnAgent(['--socket', join(run, 'agent.sock'), '--images-root', images, '--libvirt-uri', `test://${join(dir, 'node.xml')}`]);
  await waitForSocket(agent, join(run, 'agent.sock'));
  await waitForSocket(agent, join(run, 'agent-ro.sock'));
  return { agent, socketFlags: ['--agent-socket', join(run, 'agent.sock'), '--agent-ro-socket', join(run, 'agent-ro.sock')] };
}
