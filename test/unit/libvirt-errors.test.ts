import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LibvirtError } from '@unraid/libvirt';
import {
  VIR_ERR,
  definitionFailure,
  isConnectionError,
  isDomainExists,
  isNoDomain,
  isNoStoragePool,
  isOperationInvalid,
  isXmlError,
  libvirtFailure,
  libvirtFailureInfo,
} from '../../agent/libvirt/libvirt-errors.js';
import { CommandError } from '../../agent/process/run-command.js';
import { KvmcloneError } from '../../shared/errors.js';

/** What @unraid/libvirt rejects with: libvirt's message, code -1 (its native layer drops the number). */
const binding = (message: string, code = -1): LibvirtError => new LibvirtError(message, code, -1, -1);
/** What runCommand rejects with when virsh fails. */
const virsh = (stderr: string): CommandError => new CommandError('virsh', ['-c', 'qemu:///system', 'x'], 1, stderr, `virsh x failed: ${stderr}`);

function codeOf(err: unknown): string {
  const mapped = libvirtFailure(err, 'doing it');
  return mapped instanceof KvmcloneError ? mapped.code : 'INTERNAL';
}

// Messages as libvirt 9.0 wrote them in the sandbox (see test/integration/libvirt-adapter.test.ts).
const CASES: ReadonlyArray<readonly [string, unknown, string]> = [
  ['binding: unknown domain', binding("Domain not found: no domain with matching name 'nope'"), 'NOT_FOUND'],
  ['binding: unknown domain by uuid', binding("Domain not found: no domain with matching uuid '65c0b1eb-b408-4050-9f94-df6cf7bf9508' (p1)"), 'NOT_FOUND'],
  ['binding: not running', binding('Requested operation is not valid: domain is not running'), 'FAILED_PRECONDITION'],
  ['binding: already running', binding('Requested operation is not valid: domain is already running'), 'FAILED_PRECONDITION'],
  ['binding: duplicate name', binding("operation failed: domain 'p1' already exists with uuid 65c0b1eb-b408-4050-9f94-df6cf7bf9508"), 'ALREADY_EXISTS'],
  ['binding: duplicate uuid', binding("operation failed: domain 'p1' is already defined with uuid 65c0b1eb-b408-4050-9f94-df6cf7bf9508"), 'ALREADY_EXISTS'],
  ['binding: DOM_EXIST', binding('domain web-1 exists already'), 'ALREADY_EXISTS'],
  ['binding: malformed XML', binding('(domain_definition):1: Premature end of data in tag domain line 1\n<domain><name>x</name>\n----------------------^'), 'INVALID_ARGUMENT'],
  ['binding: XML error', binding('XML error: an os <type> must be specified'), 'INVALID_ARGUMENT'],
  ['binding: unsupported configuration', binding("unsupported configuration: unknown disk bus 'foo'"), 'INVALID_ARGUMENT'],
  ['binding: socket missing', binding("Failed to connect socket to '/tmp/nonexist/sock': No such file or directory"), 'UNAVAILABLE'],
  ['binding: libvirtd restarted (first call)', binding('Cannot write data: Broken pipe'), 'UNAVAILABLE'],
  ['binding: libvirtd restarted (later calls)', binding('internal error: client socket is closed'), 'UNAVAILABLE'],
  ['binding: daemon died mid-call', binding('End of file while reading data: Input/output error'), 'UNAVAILABLE'],
  ['binding: state change lock', binding('Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainCreate)'), 'ABORTED'],
  ['binding: a hypervisor command failed', binding("operation failed: guest CPU doesn't match specification: missing features: avx512f"), 'FAILED_PRECONDITION'],
  ['binding: CPU incompatible', binding('the CPU is incompatible with host CPU: Host CPU does not provide required features: svm'), 'FAILED_PRECONDITION'],
  ['binding: access denied', binding("access denied: 'urn:x' denied"), 'PERMISSION_DENIED'],
  [
    'binding: QEMU failed to start (a refused connection inside is not libvirtd)',
    binding('internal error: process exited while connecting to monitor: nbd: Connection refused'),
    'INTERNAL',
  ],
  ['binding: a real code wins over the text', binding('something libvirt never says', VIR_ERR.NO_DOMAIN), 'NOT_FOUND'],
  ['virsh: unknown domain (one line only)', virsh("error: failed to get domain 'nope'"), 'NOT_FOUND'],
  ['virsh: unknown pool', virsh("error: failed to get pool 'nope'\nerror: Storage pool not found: no storage pool with matching name 'nope'"), 'NOT_FOUND'],
  ['virsh: libvirtd down', virsh("error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/tmp/nonexist/sock': No such file or directory"), 'UNAVAILABLE'],
  [
    'virsh: running domain with snapshots',
    virsh("error: Failed to undefine domain 'vm1'\nerror: Requested operation is not valid: cannot delete inactive domain with 2 snapshots"),
    'FAILED_PRECONDITION',
  ],
  ['virsh: unknown failure', virsh("error: Failed to undefine domain 'vm1'\nerror: internal error: something odd"), 'INTERNAL'],
  ['binding: a start refused by libvirt with its reason', binding("Cannot open log file: '/var/log/libvirt/qemu/vm1-serial.log': Device or resource busy"), 'FAILED_PRECONDITION'],
  ['another program', new CommandError('qemu-img', ['info'], 1, 'Domain not found: looks like libvirt but is not', 'x'), 'INTERNAL'],
  ['a plain error', new Error('Domain not found: a plain Error is no libvirt failure'), 'INTERNAL'],
];

for (const [name, err, code] of CASES) {
  test(`libvirtFailure maps ${name} to ${code}`, () => {
    assert.equal(codeOf(err), code);
  });
}

test('predicates agree with the mapping', () => {
  assert.ok(isNoDomain(binding("Domain not found: no domain with matching name 'x'")));
  assert.ok(isNoDomain(virsh("error: failed to get domain 'x'")));
  assert.ok(!isNoDomain(binding('Requested operation is not valid: domain is not running')));
  assert.ok(isNoStoragePool(virsh("error: failed to get pool 'p'\nerror: Storage pool not found: no storage pool with matching name 'p'")));
  assert.ok(isOperationInvalid(binding('Requested operation is not valid: domain is already running')));
  assert.ok(isDomainExists(binding("operation failed: domain 'p1' already exists with uuid 1")));
  assert.ok(!isDomainExists(binding('operation failed: guest CPU does not match')));
  assert.ok(isXmlError(binding('XML error: bad')));
  assert.ok(isConnectionError(binding('internal error: client socket is closed')));
  assert.ok(
    isConnectionError(binding('Disconnected from qemu:///system due to end of file: End of file while reading data: Input/output error')),
    'a call in flight while libvirtd restarts',
  );
  assert.ok(
    isConnectionError(virsh('error: Disconnected from qemu:///system due to end of file\nerror: End of file while reading data: Input/output error')),
    'the same through virsh',
  );
  assert.ok(!isConnectionError(binding('internal error: qemu unexpectedly closed the monitor')));
  assert.ok(!isConnectionError(new Error('Cannot write data: Broken pipe')), 'only libvirt failures are libvirt connection errors');
});

test("libvirtFailureInfo reads virsh stderr with libvirt's line as the code source", () => {
  const info = libvirtFailureInfo(virsh("error: failed to get pool 'p'\nerror: Storage pool not found: no storage pool with matching name 'p'"));
  assert.deepEqual(info, {
    code: VIR_ERR.NO_STORAGE_POOL,
    message: "failed to get pool 'p': Storage pool not found: no storage pool with matching name 'p'",
  });
  assert.equal(libvirtFailureInfo(new Error('x')), undefined);
});

test("libvirtFailure says what was being done, keeps the cause, and passes through what is not libvirt's", () => {
  const cause = binding('Requested operation is not valid: domain is not running');
  const mapped = libvirtFailure(cause, "destroy domain 'vm1'");
  assert.ok(mapped instanceof KvmcloneError);
  assert.equal(mapped.message, "destroy domain 'vm1': Requested operation is not valid: domain is not running");
  assert.equal(mapped.cause, cause);
  const down = libvirtFailure(binding('Cannot write data: Broken pipe'), 'list domains');
  assert.ok(down instanceof KvmcloneError);
  assert.match(down.message, /^libvirtd is unreachable \(list domains\): Cannot write data/);
  const known = new KvmcloneError('NOT_FOUND', 'x');
  assert.equal(libvirtFailure(known, 'y'), known);
  const abort = new DOMException('aborted', 'AbortError');
  assert.equal(libvirtFailure(abort, 'y'), abort);
  const unknown = binding('internal error: odd');
  assert.equal(libvirtFailure(unknown, 'y'), unknown, 'unknown failures are rethrown as they are (INTERNAL)');
});

test("definitionFailure: a define libvirt calls an internal error is the caller's XML (INVALID_ARGUMENT); the rest passes through", () => {
  const parse = definitionFailure(binding('internal error: malformed uuid element'), 'define domain');
  assert.ok(parse instanceof KvmcloneError);
  assert.equal(parse.code, 'INVALID_ARGUMENT');
  assert.match(parse.message, /^define domain: libvirt refused the definition: internal error: malformed uuid element$/);
  const gone = binding('internal error: client socket is closed');
  assert.equal(definitionFailure(gone, 'define domain'), gone, 'a lost connection is left for the reconnect and UNAVAILABLE');
  const exists = binding("operation failed: domain 'vm1' already exists with uuid 1");
  assert.equal(definitionFailure(exists, 'define domain'), exists);
});
