/**
 * The text reporter's closing line: a copy operation names where it went;
 * an operation on one VM (failover, a drill, failback) has no destVm and
 * says nothing of one (it printed "-> undefined").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextReporter } from '../../controller/cli/text-reporter.js';

function rendered(result: Record<string, unknown>): string {
  let text = '';
  const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
  new TextReporter(out, { tty: false, showDebug: false }).result(result);
  return text;
}

test('done line: the destination of a copy, none for an operation on one VM', () => {
  assert.equal(
    rendered({ ok: true, operation: 'clone', vm: 'web1', destVm: 'web1-dr', seconds: 1.9, bytesOnWire: 3 * 1024 * 1024, id: 'op1' }),
    'done: clone web1 -> web1-dr in 1.9 s, 3.0 MiB on the wire (operation op1)\n',
  );
  assert.equal(
    rendered({ ok: true, operation: 'failover-test', vm: 'web1-dr-drill', host: 'hostb', seconds: 1.8, bytesOnWire: 0, id: 'op2' }),
    'done: failover-test web1-dr-drill in 1.8 s, 0 B on the wire (operation op2)\n',
  );
});

test('the phases of a successful result go on a line under it; a failure keeps them in --json and ops show', () => {
  assert.equal(
    rendered({
      ok: true,
      operation: 'sync',
      vm: 'web1',
      destVm: 'web1-dr',
      seconds: 2.5,
      bytesOnWire: 0,
      id: 'op3',
      phases: { preflight: 0.4, plan: 1.6, transfer: 0.3, verify: 0.2 },
    }),
    'done: sync web1 -> web1-dr in 2.5 s, 0 B on the wire (operation op3)\n  phases: preflight 0.4 s, plan 1.6 s, transfer 0.3 s, verify 0.2 s\n',
  );
  assert.equal(
    rendered({ ok: false, operation: 'sync', error: { code: 'UNAVAILABLE', message: 'hostb: agent not running' }, phases: { preflight: 0.1 } }),
    'kvmctl: hostb: agent not running\n',
  );
});

test('compressed chunks: the plain data beside the wire bytes; uncompressed, only the wire', () => {
  assert.equal(
    rendered({ ok: true, operation: 'clone', vm: 'web1', destVm: 'web1-dr', seconds: 9.4, bytesOnWire: 420 * 1024 * 1024, bytesData: 1261 * 1024 * 1024, id: 'op4' }),
    'done: clone web1 -> web1-dr in 9.4 s, 420.0 MiB on the wire (1.2 GiB of data, compressed) (operation op4)\n',
  );
  assert.equal(
    rendered({ ok: true, operation: 'clone', vm: 'web1', destVm: 'web1-dr', seconds: 9.4, bytesOnWire: 1024, bytesData: 1024, id: 'op5' }),
    'done: clone web1 -> web1-dr in 9.4 s, 1.0 KiB on the wire (operation op5)\n',
  );
});

test('a dry run ends with "plan only, nothing changed", never "done"', () => {
  assert.equal(
    rendered({ ok: true, operation: 'clone', vm: 'web1', destVm: 'web1-dr', dryRun: true, seconds: 0.8, bytesOnWire: 0, id: 'op6', phases: { preflight: 0.6, plan: 0.2 } }),
    'plan only, nothing changed: clone web1 -> web1-dr (operation op6)\n  phases: preflight 0.6 s, plan 0.2 s\n',
  );
});
