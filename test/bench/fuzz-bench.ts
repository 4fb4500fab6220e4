/**
 * `scripts/bench fuzz`: the long fuzz run (the short one is
 * test/integration/agent-fuzz.test.ts, same harness). Sends N random and
 * mutated requests (10,000 by default) to every RPC on every socket of a real
 * agent, then checks the agent stayed up and nothing outside its roots was
 * created, read or changed. Prints the seed, the counts per status code and
 * any violation; writes counts per RPC, per socket and per status code (and
 * what each refusal said first) to bench-results/fuzz-<date>.json. Exit 1
 * when a rule was broken.
 *
 *   node dist/test/bench/fuzz-bench.js [--count N] [--seed S] [--libvirt auto|sandbox|test] [--concurrency C]
 */
import { randomInt } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fuzzSession } from '../support/fuzz/fuzz-session.js';
import type { LibvirtChoice } from '../support/fuzz/fuzz-target.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    libvirt: { type: 'string', default: 'auto' },
    concurrency: { type: 'string', default: '8' },
  },
});
const count = Number(values.count);
const seed = values.seed !== undefined ? Number(values.seed) : randomInt(2 ** 31);
const concurrency = Number(values.concurrency);
const libvirt = values.libvirt as LibvirtChoice;
if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(seed) || seed < 0 || !['auto', 'sandbox', 'test'].includes(libvirt) || !(concurrency >= 1)) {
  console.error('usage: fuzz-bench [--count N] [--seed S] [--libvirt auto|sandbox|test] [--concurrency C]');
  process.exit(2);
}

console.log(`fuzz: seed ${seed} (replay: scripts/bench fuzz --count ${count} --seed ${seed})`);
const verdict = await fuzzSession({ seed, count, libvirt, concurrency, log: (line) => console.log(line) });
const { report } = verdict;
console.log(
  `${report.calls} calls (${report.mutated} byte-mutated) in ${report.seconds.toFixed(1)} s on ${verdict.sockets.length} sockets; libvirt ${verdict.libvirt}; capabilities ${verdict.capabilities ?? 'unchanged'}; agent exit ${verdict.exitCode}`,
);
console.log('per status code:');
for (const [code, n] of Object.entries(report.byCode).sort((a, b) => b[1] - a[1])) console.log(`  ${code.padEnd(32)} ${n}`);
console.log('per RPC (calls, OK):');
for (const [method, codes] of Object.entries(report.byMethod)) {
  const total = Object.values(codes).reduce((a, b) => a + b, 0);
  console.log(`  ${method.padEnd(36)} ${String(total).padStart(6)} ${String(codes.OK ?? 0).padStart(6)}`);
}
if (verdict.tmpLeftovers.length > 0) console.log(`left in the agent's private /tmp: ${verdict.tmpLeftovers.join(', ')}`);
console.log(verdict.violations.length === 0 ? 'no violations' : `VIOLATIONS (${verdict.violations.length}):\n${verdict.violations.join('\n')}`);
await mkdir('bench-results', { recursive: true });
const out = join('bench-results', `fuzz-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
await writeFile(out, JSON.stringify({ seed, count, ...verdict }, null, 2));
console.log(`counts: ${out}`);
process.exit(verdict.violations.length === 0 ? 0 : 1);
