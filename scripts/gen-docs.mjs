#!/usr/bin/env node
// Renders, from the built command trees (run after `tsc`), the man pages kvmctl(1) and
// kvmclone-agent(8) and kvmctl's shell completions, into dist/man and dist/completions.
// The date on the pages is SOURCE_DATE_EPOCH's when set (reproducible builds), else today.
// Usage: node scripts/gen-docs.mjs [OUT_DIR]   (default: dist)
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const out = resolve(process.argv[2] ?? join(root, 'dist'));
const dist = join(root, 'dist');
const epoch = process.env.SOURCE_DATE_EPOCH;
const date = (epoch ? new Date(Number(epoch) * 1000) : new Date()).toISOString().slice(0, 10);

const { kvmctlManPage } = await import(join(dist, 'controller/cli/manual.js'));
const { agentManPage } = await import(join(dist, 'agent/agent-manual.js'));
const { buildProgram } = await import(join(dist, 'controller/cli/program.js'));
const { commandTree } = await import(join(dist, 'shared/cli-docs/command-tree.js'));
const { completionScript } = await import(join(dist, 'controller/cli/completion-scripts.js'));

await mkdir(join(out, 'man'), { recursive: true });
await mkdir(join(out, 'completions'), { recursive: true });
await writeFile(join(out, 'man', 'kvmctl.1'), kvmctlManPage(date));
await writeFile(join(out, 'man', 'kvmclone-agent.8'), agentManPage(date));
const tree = commandTree(buildProgram(() => undefined));
await writeFile(join(out, 'completions', 'kvmctl.bash'), completionScript(tree, 'bash'));
await writeFile(join(out, 'completions', '_kvmctl'), completionScript(tree, 'zsh'));
await writeFile(join(out, 'completions', 'kvmctl.fish'), completionScript(tree, 'fish'));
console.log(`man pages and completions written to ${out}`);
