/**
 * An agent that cannot be reached is said in a user's words — socket
 * missing, nothing answering, permission — with grpc-js's own text kept as
 * the error's detail (shown with --verbose and in --json), never in the
 * message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { fromStatus } from '../../shared/from-status.js';
import { TextReporter } from '../../controller/cli/text-reporter.js';

function unavailable(details: string): ServiceError {
  return Object.assign(new Error(`14 UNAVAILABLE: ${details}`), { code: status.UNAVAILABLE, details, metadata: new Metadata() });
}

test('missing socket, refused, permission denied and anything else, each in plain words', () => {
  const cases: [string, RegExp][] = [
    [
      'No connection established. Last error: connect ENOENT /run/kvmclone/agent.sock (2026-12-03T09:00:00Z). Resolution note: ',
      /hostb: the agent cannot be reached: its socket is missing: kvmclone-agent is not running there/,
    ],
    [
      'No connection established. Last error: connect ECONNREFUSED /run/kvmclone/agent.sock',
      /hostb: the agent cannot be reached: nothing answers on its socket: kvmclone-agent is not running there/,
    ],
    [
      'No connection established. Last error: connect EACCES /run/kvmclone/agent.sock',
      /hostb: the agent cannot be reached: permission denied on its socket: the SSH account is not in the agent socket's group/,
    ],
    [
      'No connection established. Last error: Failed to connect (2026-12-03T09:18:50.048Z). Resolution note: ',
      /hostb: the agent cannot be reached: the connection to its socket failed: is kvmclone-agent running there\?$/,
    ],
  ];
  for (const [details, message] of cases) {
    const err = fromStatus(unavailable(details), 'hostb');
    assert.equal(err.code, 'UNAVAILABLE');
    assert.match(err.message, message);
    assert.doesNotMatch(err.message, /No connection established|Resolution note/);
    assert.equal(err.detail, details);
  }
  const other = fromStatus(Object.assign(new Error('5 NOT_FOUND: no domain web9'), { code: status.NOT_FOUND, details: 'no domain web9', metadata: new Metadata() }), 'hostb');
  assert.equal(other.message, 'hostb: no domain web9');
  assert.equal(other.detail, undefined);
});

test('the detail goes under the error line with --verbose only', () => {
  const render = (showDebug: boolean): string => {
    let text = '';
    const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
    new TextReporter(out, { tty: false, showDebug }).result({
      ok: false,
      error: { code: 'UNAVAILABLE', message: 'hostb: the agent cannot be reached: …', detail: 'No connection established.' },
    });
    return text;
  };
  assert.equal(render(false), 'kvmctl: hostb: the agent cannot be reached: …\n');
  assert.equal(render(true), 'kvmctl: hostb: the agent cannot be reached: …\ndebug: No connection established.\n');
});
