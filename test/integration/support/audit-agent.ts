/**
 * The audit trail of a real agent process (libvirt's test driver, real
 * files) for the audit-trail-*.test.ts files: a temporary directory with an
 * image root and, when asked, an agent writing its trail there; the records
 * a call adds to a trail, and the calls the tests make.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createAgentClients, type AgentClients } from '../../../shared/agent-clients.js';
import type { AuditEntry__Output } from '../../../shared/generated/kvmclone/agent/v1/AuditEntry.js';
import type { ReadAuditRequest } from '../../../shared/generated/kvmclone/agent/v1/ReadAuditRequest.js';
import type { WriteRangesRequest } from '../../../shared/generated/kvmclone/agent/v1/WriteRangesRequest.js';
import type { WriteRangesResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/WriteRangesResponse.js';
import { parseRecordLine, type AuditRecord } from '../../../agent/audit/audit-record.js';
import { spawnAgent, waitForSocket, type AgentProcess } from '../../support/agent-process.js';
import { streamEvents } from '../../support/stream-events.js';

export const T = { deadlineMs: 30_000 };
export const V1 = '/kvmclone.agent.v1.';

/** The directory, and the agent when there is one, filled in before the file's tests. */
export class AuditAgent {
  dir = '';
  images = '';
  /** The agent's trail: log/audit.log in the directory. */
  auditFile = '';
  agent!: AgentProcess;
  clients!: AgentClients;

  /** Makes the directory and its image root; with `spawn`, starts an agent on run/agent.sock writing its trail to `auditFile`. */
  async start(spawn: boolean): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'kvmclone-audit-it-'));
    this.images = join(this.dir, 'images');
    this.auditFile = join(this.dir, 'log', 'audit.log');
    await mkdir(this.images);
    if (!spawn) return;
    const socket = join(this.dir, 'run', 'agent.sock');
    this.agent = spawnAgent(['--socket', socket, '--images-root', this.images, '--libvirt-uri', 'test:///default', '--audit-file', this.auditFile]);
    await waitForSocket(this.agent, socket);
    this.clients = createAgentClients(`unix:${socket}`);
  }

  async stop(): Promise<void> {
    this.clients?.close();
    if (this.agent?.child.exitCode === null) this.agent.child.kill('SIGKILL');
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true });
  }

  async records(file = this.auditFile): Promise<AuditRecord[]> {
    const text = await readFile(file, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const r = parseRecordLine(l);
        assert.ok(r, `not a record: ${l}`);
        return r;
      });
  }

  /** Runs `fn` and returns the records it added to the trail. */
  async added(fn: () => Promise<unknown>, file = this.auditFile): Promise<AuditRecord[]> {
    const before = (await this.records(file)).length;
    await fn().catch(() => undefined);
    // No waiting: the record is on disk before the answer is sent.
    return (await this.records(file)).slice(before);
  }
}

/** A directory with an image root for the calling test file (and with `spawn` an agent auditing into it): made before its tests, removed after them. */
export function useAuditAgent(options: { spawn: boolean }): AuditAgent {
  const audit = new AuditAgent();
  before(() => audit.start(options.spawn));
  after(() => audit.stop());
  return audit;
}

export function vmXml(name: string, extra = ''): string {
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>${extra}</devices></domain>`;
}

export function writeRanges(c: AgentClients, messages: WriteRangesRequest[]): Promise<WriteRangesResponse__Output> {
  return new Promise((resolve, reject) => {
    const call = c.disk.writeRanges(new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (err, res) =>
      err ? reject(err) : res ? resolve(res) : reject(new Error('WriteRanges answered nothing')),
    );
    for (const m of messages) call.write(m);
    call.end();
  });
}

export function readAudit(c: AgentClients, request: Partial<ReadAuditRequest>): Promise<AuditEntry__Output[]> {
  return streamEvents(c.info.readAudit(request, { deadline: Date.now() + 30_000 }));
}

export function checkCaller(r: AuditRecord): void {
  // Null until the agent accepts its connections itself (SO_PEERCRED); then it must name this process.
  if (r.caller !== null) {
    assert.equal(r.caller.uid, process.getuid?.());
    assert.equal(r.caller.pid, process.pid);
  }
}
