/**
 * The short fuzz run of scripts/test (about 30 s; the long one is
 * `scripts/bench fuzz`): random and mutated requests to every RPC of the
 * agent's v1 services, on every socket it serves, including DefineDomain XML
 * from a grammar of libvirt elements and hostile paths (`..`, NUL, over-long
 * names, look-alike characters, symlink chains out of the roots). The agent
 * runs as a process the way systemd runs it (private /tmp, the unit's
 * capability bounding set, no new privileges) against a real libvirtd
 * sandbox when root, else libvirt's test driver.
 *
 * Rules: the agent stays up (healthy after every batch, exit 0 on SIGTERM),
 * every call ends with a status before its deadline, no INTERNAL, and
 * nothing outside the roots is created, read or changed. The seed is printed;
 * replay with KVMCLONE_FUZZ_SEED=<seed> (and KVMCLONE_FUZZ_COUNT=<n>).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { fuzzSession } from '../support/fuzz/fuzz-session.js';

const seed = process.env.KVMCLONE_FUZZ_SEED !== undefined ? Number(process.env.KVMCLONE_FUZZ_SEED) : randomInt(2 ** 31);
const count = Number(process.env.KVMCLONE_FUZZ_COUNT ?? 3000);

test(`fuzz: ${count} random and mutated calls on every socket (seed ${seed})`, { timeout: 600_000 }, async (t) => {
  t.diagnostic(`seed ${seed}: replay with KVMCLONE_FUZZ_SEED=${seed} KVMCLONE_FUZZ_COUNT=${count}`);
  const verdict = await fuzzSession({ seed, count, log: (line) => t.diagnostic(line) });
  t.diagnostic(
    `libvirt ${verdict.libvirt}; sockets ${verdict.sockets.map((s) => s.slice(s.lastIndexOf('/') + 1)).join(', ')}; capabilities ${verdict.capabilities ?? 'unchanged (not root)'}; reads checked ${verdict.readsChecked}`,
  );
  t.diagnostic(`${verdict.report.calls} calls (${verdict.report.mutated} mutated) in ${verdict.report.seconds.toFixed(1)} s: ${JSON.stringify(verdict.report.byCode)}`);
  assert.deepEqual(verdict.violations, [], `seed ${seed}`);
  assert.equal(verdict.report.calls, count, 'every call got a status');
  assert.ok(verdict.sockets.some((s) => s.endsWith('/agent.sock')) && verdict.sockets.some((s) => s.endsWith('/peer.sock')), verdict.sockets.join(' '));
  for (const [method, codes] of Object.entries(verdict.report.byMethod)) assert.ok(Object.values(codes).reduce((a, b) => a + b, 0) > 0, `${method} was called`);
});
