/**
 * An agent with a socket group (the group of the dedicated SSH account,
 * kvmclone): its admin socket, its peer socket and its forward directory all
 * belong to that group, so an unprivileged login in it can reach the agent
 * (-L), forward the peer socket to another host (-L) and bind per-operation
 * peer sockets (-R) — and nobody outside the group can do any of it. Without
 * a socket group the peer socket and the forward directory stay root's.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnAgent, waitForSocket, type AgentProcess } from '../support/agent-process.js';

const agents: AgentProcess[] = [];
let dir: string | undefined;

after(async () => {
  for (const a of agents) if (a.child.exitCode === null) a.child.kill('SIGTERM');
  await Promise.all(agents.map((a) => a.exited));
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function start(name: string, config: string): Promise<string> {
  dir ??= await mkdtemp(join(tmpdir(), 'kvmclone-socket-group-'));
  const run = join(dir, name, 'run');
  await mkdir(join(dir, name, 'images'), { recursive: true });
  await writeFile(join(dir, name, 'agent.yaml'), config);
  const agent = spawnAgent([
    '--config',
    join(dir, name, 'agent.yaml'),
    '--socket',
    join(run, 'agent.sock'),
    '--images-root',
    join(dir, name, 'images'),
    '--libvirt-uri',
    'test:///default',
  ]);
  agents.push(agent);
  await waitForSocket(agent, join(run, 'agent.sock'));
  await waitForSocket(agent, join(run, 'peer.sock'));
  // the forward directory is prepared just after the peer socket listens (the last step of start-up)
  for (let i = 0; i < 100 && !existsSync(join(run, 'forward')); i++) await sleep(20);
  return run;
}

const owner = async (path: string): Promise<string> => {
  const st = await stat(path);
  return `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`;
};

test('socket_group: admin socket 0660, peer socket 0660, forward directory 1770, all in that group', async () => {
  const run = await start('grouped', 'socket_group: 4242\n');
  assert.equal(await owner(join(run, 'agent.sock')), '0:4242 660');
  assert.equal(await owner(join(run, 'peer.sock')), '0:4242 660');
  assert.equal(await owner(join(run, 'forward')), '0:4242 1770');
  assert.equal(await owner(run), '0:0 755', "the agent's own directory stays root's");
});

test("no socket group: the peer socket and the forward directory are root's alone", async () => {
  const run = await start('plain', 'log_level: warn\n');
  assert.equal(await owner(join(run, 'peer.sock')), '0:0 600');
  assert.equal(await owner(join(run, 'forward')), '0:0 700');
});
