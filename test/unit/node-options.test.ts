/** The agent's V8 options are where every way of starting it picks them up. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AGENT_NODE_OPTIONS, missingNodeOptions } from '../../agent/node-options.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('the #! line of agent/main.ts runs node with every agent option', async () => {
  const first = (await readFile(`${root}agent/main.ts`, 'utf8')).split('\n')[0] ?? '';
  assert.equal(first, `#!/usr/bin/env -S node ${AGENT_NODE_OPTIONS.join(' ')}`);
});

test('scripts/demo starts its agents as the installed unit does, whose wrapper carries the agent options; scripts/bench read its in-process server with them', async () => {
  const demo = await readFile(`${root}scripts/demo`, 'utf8');
  assert.match(demo, /^scripts\/install-package$/m, 'the demo installs the package');
  assert.match(demo, /AGENT_CMD="exec \$\(sed -n 's\/\^ExecStart=\/\/p' "\$unit"\)"/, "agents started with the unit's ExecStart");
  const unit = await readFile(`${root}deploy/systemd/kvmclone-agent.service`, 'utf8');
  assert.match(unit, /^ExecStart=\/usr\/sbin\/kvmclone-agent /m);
  const packaging = await readFile(`${root}scripts/package`, 'utf8');
  assert.match(packaging, /AGENT_NODE_OPTIONS\.join\(' '\)/, 'the wrapper /usr/sbin/kvmclone-agent gets the options from agent/node-options');
  const bench = await readFile(`${root}scripts/bench`, 'utf8');
  assert.match(bench, new RegExp(`read\\) exec node ${AGENT_NODE_OPTIONS.join(' ')} `));
});

test('missingNodeOptions names what a process was started without', () => {
  assert.deepEqual(missingNodeOptions([...AGENT_NODE_OPTIONS, '--inspect']), []);
  assert.deepEqual(missingNodeOptions(['--inspect']), [...AGENT_NODE_OPTIONS]);
});
