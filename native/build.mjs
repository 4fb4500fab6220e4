/**
 * Builds kvmclone's native addon (native/fd_calls.c → native/build/Release/kvmclone_fd.node) with the
 * node-gyp npm carries, against the headers of the Node running this: NodeSource's and Debian's nodejs
 * packages install them as <prefix>/include/node, so nothing is downloaded (node-gyp would otherwise fetch
 * them from nodejs.org). A nodedir set in npm's config wins. Needs a C compiler, make and python3.
 * Run through npm, which puts its node-gyp in the environment: package.json's install script (npm ci), and
 * `npm run install` (scripts/npm-deps, when the addon is missing or older than its sources).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nodeGyp = process.env.npm_config_node_gyp;
if (!nodeGyp) {
  console.error('native/build.mjs: run it through npm (npm ci, or npm run install), which provides node-gyp');
  process.exit(2);
}
const prefix = dirname(dirname(process.execPath));
const args = ['rebuild'];
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const command = nodeGyp.endsWith('.js') ? process.execPath : nodeGyp;
const result = spawnSync(command, nodeGyp.endsWith('.js') ? [nodeGyp, ...args] : args, { cwd: here, stdio: 'inherit' });
if (result.error) throw result.error;
process.exit(result.status ?? 1);
