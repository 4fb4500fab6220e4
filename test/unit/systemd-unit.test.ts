/**
 * The shipped unit (deploy/systemd/kvmclone-agent.service): the hardening an
 * operator expects is there, paths that a host may lack (swtpm, NVRAM, even
 * the default images dir) are optional with `-`, and — where systemd-analyze
 * is installed — its offline exposure score stays where it was measured.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readShippedUnit, serviceValue, serviceWords, SHIPPED_UNIT } from '../support/unit-file.js';

const unit = readShippedUnit();

test('hardening keys are set as the agent can live with them', () => {
  const expected: Record<string, string> = {
    Type: 'notify',
    NoNewPrivileges: 'yes',
    ProtectSystem: 'strict',
    ProtectHome: 'yes',
    PrivateTmp: 'yes',
    PrivateDevices: 'yes',
    ProtectProc: 'invisible',
    ProtectKernelTunables: 'yes',
    ProtectKernelModules: 'yes',
    ProtectKernelLogs: 'yes',
    ProtectControlGroups: 'yes',
    ProtectClock: 'yes',
    ProtectHostname: 'yes',
    RestrictAddressFamilies: 'AF_UNIX',
    RestrictNamespaces: 'yes',
    RestrictRealtime: 'yes',
    RestrictSUIDSGID: 'yes',
    LockPersonality: 'yes',
    SystemCallFilter: '@system-service',
    SystemCallErrorNumber: 'EPERM',
    SystemCallArchitectures: 'native',
    PrivateNetwork: 'yes',
    UMask: '0077',
  };
  for (const [key, value] of Object.entries(expected)) assert.equal(serviceValue(unit, key), value, key);
});

test('capabilities: exactly CAP_CHOWN (socket groups) and CAP_DAC_OVERRIDE (images of other owners)', () => {
  assert.deepEqual(serviceWords(unit, 'CapabilityBoundingSet').sort(), ['CAP_CHOWN', 'CAP_DAC_OVERRIDE']);
  assert.equal(serviceValue(unit, 'AmbientCapabilities'), '');
});

test('MemoryDenyWriteExecute is off on purpose, with the reason beside it (V8 JIT)', async () => {
  assert.equal(serviceValue(unit, 'MemoryDenyWriteExecute'), 'no');
  const { readFile } = await import('node:fs/promises');
  assert.match(await readFile(SHIPPED_UNIT, 'utf8'), /#.*V8.*JIT[\s\S]*MemoryDenyWriteExecute=no/);
});

test('every ReadWritePaths entry is optional (-): the unit starts on a host without swtpm or NVRAM', () => {
  const paths = serviceWords(unit, 'ReadWritePaths');
  for (const p of ['-/var/lib/libvirt/images', '-/var/lib/libvirt/qemu/nvram', '-/var/lib/libvirt/swtpm']) assert.ok(paths.includes(p), `${p} in ${paths.join(' ')}`);
  for (const p of paths) assert.ok(p.startsWith('-/'), `${p} must start with -`);
  assert.equal(serviceValue(unit, 'RuntimeDirectory'), 'kvmclone');
  assert.equal(serviceValue(unit, 'LogsDirectory'), 'kvmclone', 'the audit trail directory exists and is writable');
});

test('systemd-analyze: the offline exposure score is at most 1.5 (measured 1.3)', (t) => {
  const version = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) {
    t.skip('systemd-analyze is not installed');
    return;
  }
  const run = spawnSync('systemd-analyze', ['security', '--offline=yes', SHIPPED_UNIT], { encoding: 'utf8' });
  const score = /Overall exposure level for kvmclone-agent\.service: ([\d.]+)/.exec(`${run.stdout}${run.stderr}`)?.[1];
  assert.ok(score !== undefined, `${run.stdout}${run.stderr}`);
  assert.ok(Number(score) <= 1.5, `exposure ${score}`);
});
