/**
 * known_hosts checking against files made by OpenSSH's own tools: keys from
 * ssh-keygen, hashed names from `ssh-keygen -H`, fingerprints compared with
 * `ssh-keygen -lf`. Covers comma lists, wildcards and negation, [host]:port,
 * @revoked, @cert-authority, and the wording of every refusal.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  blobKeyType,
  checkHostKey,
  fingerprintOf,
  knownHostsName,
  knownKeyTypes,
  loadKnownHosts,
  parseKnownHosts,
  type KnownHosts,
} from '../../controller/transport/known-hosts.js';

const run = promisify(execFile);

interface Key {
  line: string; // "type base64"
  blob: Buffer;
  fingerprint: string; // from ssh-keygen -lf
}

let dir: string;
let A: Key;
let B: Key;
let R: Key;
let plainFile: string;
let hashedFile: string;
let db: KnownHosts;

async function keygen(name: string, type: string): Promise<Key> {
  const path = join(dir, name);
  await run('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', name, '-f', path]);
  const pub = (await readFile(`${path}.pub`, 'utf8')).trim().split(' ');
  const { stdout } = await run('ssh-keygen', ['-lf', `${path}.pub`]);
  return { line: `${pub[0]} ${pub[1]}`, blob: Buffer.from(pub[1], 'base64'), fingerprint: stdout.split(' ')[1] };
}

const q = (host: string, port = 22) => ({ display: `alias-of-${host}`, host, port, address: `${host}:${port}` });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-kh-'));
  [A, B, R] = await Promise.all([keygen('a', 'ed25519'), keygen('b', 'ed25519'), keygen('r', 'rsa')]);
  plainFile = join(dir, 'plain_known_hosts');
  await writeFile(
    plainFile,
    [
      '# kvmclone test file',
      `host1.example,192.0.2.1 ${A.line} a comment`,
      `[host2.example]:2222 ${A.line}`,
      `*.wild.example,!bad.wild.example ${A.line}`,
      `@revoked revoked.example ${B.line}`,
      `revoked.example ${B.line}`,
      `changed.example ${B.line}`,
      `rsa-only.example ${R.line}`,
      `@cert-authority *.ca.example ${A.line}`,
      '',
    ].join('\n'),
  );
  hashedFile = join(dir, 'hashed_known_hosts');
  await writeFile(hashedFile, `hashed.example,198.51.100.7 ${A.line}\n[hashed.example]:2200 ${A.line}\n`);
  await run('ssh-keygen', ['-q', '-H', '-f', hashedFile]);
  db = await loadKnownHosts([plainFile, hashedFile, join(dir, 'absent')]);
});

test('fingerprints are what ssh-keygen -lf prints; key types come from the blob', () => {
  for (const k of [A, B, R]) assert.equal(fingerprintOf(k.blob), k.fingerprint);
  assert.equal(blobKeyType(A.blob), 'ssh-ed25519');
  assert.equal(blobKeyType(R.blob), 'ssh-rsa');
  assert.equal(blobKeyType(Buffer.from([0, 0, 0, 9, 1])), undefined);
  assert.notEqual(A.fingerprint, B.fingerprint);
});

test('ssh-keygen -H really hashed the names, and every line parsed', async () => {
  const text = await readFile(hashedFile, 'utf8');
  assert.doesNotMatch(text, /hashed\.example|198\.51/);
  assert.equal(
    text
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('|1|')).length,
    3,
  );
  assert.deepEqual(db.problems, []);
  assert.equal(db.entries.length, 8 + 3);
});

test('plain names, comma lists, case-insensitive names and [host]:port', () => {
  for (const [host, port] of [
    ['host1.example', 22],
    ['192.0.2.1', 22],
    ['HOST1.Example', 22],
    ['host2.example', 2222],
  ] as const) {
    const v = checkHostKey(db, q(host, port), A.blob);
    assert.equal(v.verdict, 'match', `${host}:${port}`);
    assert.equal(v.fingerprint, A.fingerprint);
    assert.equal(v.message, '');
  }
  assert.equal(checkHostKey(db, q('host2.example'), A.blob).verdict, 'unknown');
  assert.equal(checkHostKey(db, q('host1.example', 2222), A.blob).verdict, 'unknown');
  assert.equal(knownHostsName('Box', 22), 'box');
  assert.equal(knownHostsName('Box', 2222), '[box]:2222');
});

test('wildcards match, and a negated pattern vetoes its line', () => {
  assert.equal(checkHostKey(db, q('a.wild.example'), A.blob).verdict, 'match');
  assert.equal(checkHostKey(db, q('bad.wild.example'), A.blob).verdict, 'unknown');
});

test('hashed |1|salt|hmac names from ssh-keygen -H, with and without a port', () => {
  assert.equal(checkHostKey(db, q('hashed.example'), A.blob).verdict, 'match');
  assert.equal(checkHostKey(db, q('198.51.100.7'), A.blob).verdict, 'match');
  assert.equal(checkHostKey(db, q('hashed.example', 2200), A.blob).verdict, 'match');
  assert.equal(checkHostKey(db, q('hashed.example', 2201), A.blob).verdict, 'unknown');
  const changed = checkHostKey(db, q('hashed.example'), B.blob);
  assert.equal(changed.verdict, 'changed');
  assert.equal(changed.entry?.file, hashedFile);
});

test('unknown: the message names host, address, key, fingerprint and files, and says what to do', () => {
  const v = checkHostKey(db, { display: 'hostb', host: '169.254.202.2', port: 22, address: '169.254.202.2:22' }, A.blob);
  assert.equal(v.verdict, 'unknown');
  assert.equal(
    v.message,
    `hostb (169.254.202.2:22): host key ssh-ed25519 ${A.fingerprint} is not in ${plainFile}, ${hashedFile}, ${join(dir, 'absent')}: refusing to connect. ` +
      'Check the fingerprint out of band and add it with ssh-keyscan or ssh.',
  );
});

test('changed: a different key of the same type for the host', () => {
  const v = checkHostKey(db, q('changed.example'), A.blob);
  assert.equal(v.verdict, 'changed');
  assert.equal(v.fingerprint, A.fingerprint);
  assert.match(v.message, /^alias-of-changed\.example \(changed\.example:22\): WARNING: HOST KEY HAS CHANGED!/);
  assert.ok(v.message.includes(`offered ssh-ed25519 ${A.fingerprint}`));
  assert.ok(v.message.includes(`${plainFile}:7 holds ${B.fingerprint}`));
  assert.match(v.message, /Refusing to connect\./);
  assert.match(v.message, /ssh-keygen -R 'changed\.example'/);
});

test('a key of another type only: unknown (as ssh), saying which type is known', () => {
  const v = checkHostKey(db, q('rsa-only.example'), A.blob);
  assert.equal(v.verdict, 'unknown');
  assert.ok(v.message.includes(`(${plainFile}:8 has a ssh-rsa key for this host, but the host offered ssh-ed25519)`));
  assert.equal(checkHostKey(db, q('rsa-only.example'), R.blob).verdict, 'match');
  assert.deepEqual(knownKeyTypes(db, 'rsa-only.example', 22), ['ssh-rsa']);
  assert.deepEqual(knownKeyTypes(db, 'revoked.example', 22), ['ssh-ed25519']);
  assert.deepEqual(knownKeyTypes(db, 'nowhere.example', 22), []);
});

test('@revoked wins over a plain line with the same key', () => {
  const v = checkHostKey(db, q('revoked.example'), B.blob);
  assert.equal(v.verdict, 'revoked');
  assert.ok(v.message.includes(`${B.fingerprint} is marked @revoked in ${plainFile}:5`));
  assert.equal(checkHostKey(db, q('revoked.example'), A.blob).verdict, 'changed');
});

test('@cert-authority lines never match, and the refusal says certificates are not supported', () => {
  const v = checkHostKey(db, q('x.ca.example'), A.blob);
  assert.equal(v.verdict, 'unknown');
  assert.match(v.message, /:9 is a @cert-authority line for this host, but host certificates are not supported by the ssh2 engine/);
});

test('malformed lines are reported and skipped; the rest still count', () => {
  const b64 = A.line.split(' ')[1];
  const text = [
    `good.example ${A.line}`,
    `bad64.example ssh-ed25519 ${b64.slice(0, -6)}!!!`,
    `mismatch.example ssh-rsa ${b64}`,
    `@weird x.example ${A.line}`,
    'onlyhost.example',
    `|1|c2hvcnQ=|aGFzaA== ${A.line}`,
    'old.example 1024 35 123456',
  ].join('\n');
  const { entries, problems } = parseKnownHosts(text, 'kh');
  assert.equal(entries.length, 1);
  assert.deepEqual(
    problems.map((p) => p.replace(/: .*/, '')),
    ['kh:2', 'kh:3', 'kh:4', 'kh:5', 'kh:6', 'kh:7'],
  );
  assert.match(problems[1], /key type ssh-rsa does not match the key data \(ssh-ed25519\)/);
  assert.match(problems[2], /unknown marker @weird/);
});

test('no known_hosts files at all: unknown, and the message says so', async () => {
  const empty = await loadKnownHosts([]);
  assert.match(checkHostKey(empty, q('h'), A.blob).message, /is not in \(no known_hosts file\)/);
});
