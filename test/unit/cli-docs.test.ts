/**
 * The man pages and shell completions are rendered from the command trees
 * that parse the command lines: every command and option of kvmctl is in
 * kvmctl(1) and in the completions, the agent's in kvmclone-agent(8); groff
 * renders both pages without a warning; the bash completion, run in a real
 * bash, completes verbs, options, option values and file names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../controller/cli/program.js';
import { kvmctlManPage } from '../../controller/cli/manual.js';
import { completionScript } from '../../controller/cli/completion-scripts.js';
import { agentManPage } from '../../agent/agent-manual.js';
import { buildAgentProgram } from '../../agent/cli-program.js';
import { allCommands, commandTree } from '../../shared/cli-docs/command-tree.js';
import { roffText } from '../../shared/cli-docs/man-page.js';

const kvmctl = commandTree(buildProgram(() => undefined));
const agent = commandTree(buildAgentProgram(() => undefined));
const GROFF = existsSync('/usr/bin/groff') ? false : 'groff is not installed (Debian: groff-base)';

test('kvmctl(1) has every command with its usage and every option; kvmclone-agent(8) every option and install-unit', () => {
  const page = kvmctlManPage('2026-12-03');
  assert.match(page, /^\.TH KVMCTL 1 "2026-12-03" "kvmclone /m);
  const commands = allCommands(kvmctl).slice(1);
  assert.ok(commands.length > 30, `${commands.length} commands`);
  for (const c of commands) {
    assert.ok(page.includes(`.SS "${roffText(`kvmctl ${c.path.join(' ')} ${c.usage}`.trim())}"`), `kvmctl ${c.path.join(' ')} has its section`);
    for (const o of c.options) assert.ok(page.includes(roffText(o.flags)), `kvmctl ${c.path.join(' ')} ${o.flags}`);
  }
  for (const o of kvmctl.options) assert.ok(page.includes(roffText(o.flags)), o.flags);
  for (const code of ['0', '1', '2', '3', '130']) assert.match(page, new RegExp(`^\\.B ${code}$`, 'm'), `exit status ${code}`);
  const agentPage = agentManPage('2026-12-03');
  assert.match(agentPage, /^\.TH KVMCLONE-AGENT 8 /m);
  for (const o of agent.options) assert.ok(agentPage.includes(roffText(o.flags)), o.flags);
  assert.ok(agentPage.includes('.SS "kvmclone\\-agent install\\-unit'), 'install-unit has its section');
});

test('groff renders both pages without a warning', { skip: GROFF }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmclone-man-'));
  for (const [name, text] of [
    ['kvmctl.1', kvmctlManPage('2026-12-03')],
    ['kvmclone-agent.8', agentManPage('2026-12-03')],
  ] as const) {
    writeFileSync(join(dir, name), text);
    const run = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', join(dir, name)], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '', `${name}: ${run.stderr}`);
  }
});

/** What the bash completion offers for a command line (the last word is the one being completed). */
function complete(...words: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'kvmclone-completion-'));
  writeFileSync(join(dir, 'kvmctl.bash'), completionScript(kvmctl, 'bash'));
  writeFileSync(join(dir, 'passwd-like'), '');
  const script = `cd ${dir}; source kvmctl.bash; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kvmctl; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['-c', script], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l !== '')
    .sort();
}

test('the bash completion completes verbs, subcommands, options, their values and file names', () => {
  assert.deepEqual(complete('kvmctl', 'cl'), ['clone']);
  assert.deepEqual(complete('kvmctl', 'replica', 'a'), ['add', 'apply']);
  assert.deepEqual(complete('kvmctl', 'clone', 'vm1', '--fl'), ['--flatten']);
  assert.ok(complete('kvmctl', 'sync', '--').includes('--json'), "the program's options too");
  assert.deepEqual(complete('kvmctl', '--engine', ''), ['auto', 'openssh', 'ssh2']);
  assert.deepEqual(complete('kvmctl', 'completion', ''), ['bash', 'fish', 'zsh']);
  assert.deepEqual(complete('kvmctl', 'clone', '--config', 'passwd'), ['passwd-like'], 'a <file> value completes file names');
  assert.deepEqual(complete('kvmctl', 'clone', '--from', ''), [], "a host is the user's to type");
  assert.deepEqual(complete('kvmctl', '--config', 'x.yaml', 'ops', ''), ['list', 'show'], "an option's value is not taken for a verb");
});

test('zsh and fish scripts name every verb; `kvmctl completion` prints them and refuses another shell', () => {
  const zsh = completionScript(kvmctl, 'zsh');
  const fish = completionScript(kvmctl, 'fish');
  assert.match(zsh, /^#compdef kvmctl\n/);
  for (const c of kvmctl.commands) {
    assert.ok(zsh.includes(c.name), c.name);
    assert.ok(fish.includes(`-a ${c.name} `), c.name);
  }
  assert.ok(fish.includes("-l flatten -d 'give the copy one standalone image per disk"), fish.slice(0, 400));
  const main = join(process.cwd(), 'dist/controller/main.js');
  assert.equal(execFileSync(process.execPath, [main, 'completion', 'bash'], { encoding: 'utf8' }), completionScript(kvmctl, 'bash'));
  const other = spawnSync(process.execPath, [main, 'completion', 'tcsh'], { encoding: 'utf8' });
  assert.equal(other.status, 2, other.stderr);
});
