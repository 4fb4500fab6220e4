/**
 * The shipped replicate timer and service (deploy/systemd/kvmctl-replicate.*):
 * a oneshot `kvmctl replicate --due` every minute as an unprivileged account,
 * with the hardening a controller can live with (home read-only, writes only
 * its state directory, IP for SSH and webhooks); where systemd-analyze is
 * installed, both files pass its verification.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseUnitFile, serviceValue, serviceWords } from '../support/unit-file.js';

const path = (name: string): string => fileURLToPath(new URL(`../../../deploy/systemd/${name}`, import.meta.url));
const service = parseUnitFile(readFileSync(path('kvmctl-replicate.service'), 'utf8'));
const timer = parseUnitFile(readFileSync(path('kvmctl-replicate.timer'), 'utf8'));

test('a oneshot replicate --due as the operator account, hardened', () => {
  const expected: Record<string, string> = {
    Type: 'oneshot',
    ExecStart: '/usr/bin/kvmctl replicate --due',
    StateDirectory: 'kvmclone',
    ProtectSystem: 'strict',
    ProtectHome: 'read-only',
    PrivateTmp: 'yes',
    NoNewPrivileges: 'yes',
    CapabilityBoundingSet: '',
    SystemCallFilter: '@system-service',
    UMask: '0077',
  };
  for (const [key, value] of Object.entries(expected)) assert.equal(serviceValue(service, key), value, key);
  assert.notEqual(serviceValue(service, 'User') ?? 'root', 'root', 'not root');
  assert.deepEqual(serviceWords(service, 'RestrictAddressFamilies').sort(), ['AF_INET', 'AF_INET6', 'AF_UNIX']);
});

test('the timer fires every minute and catches up after downtime', () => {
  const t = timer.get('Timer');
  assert.equal(t?.get('OnCalendar')?.at(-1), '*-*-* *:*:00');
  assert.equal(t?.get('Persistent')?.at(-1), 'true');
  assert.equal(timer.get('Install')?.get('WantedBy')?.at(-1), 'timers.target');
});

test('systemd-analyze calendar accepts the schedule: the next two elapses are a minute apart', (t) => {
  const run = spawnSync('systemd-analyze', ['calendar', '--iterations=2', '*-*-* *:*:00'], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
  if (run.error) return t.skip('systemd-analyze is not installed');
  assert.equal(run.status, 0, run.stderr);
  const next = [...run.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): \S+ (\S+) (\S+) UTC/g)].map((m) => Date.parse(`${m[1] ?? ''}T${m[2] ?? ''}Z`));
  assert.equal(next.length >= 2, true, run.stdout);
  assert.equal((next[1] ?? 0) - (next[0] ?? 0), 60_000, run.stdout);
});
