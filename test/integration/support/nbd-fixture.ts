/**
 * What the NbdClient integration tests (nbd-client-*.test.ts) share: a
 * temporary directory for the calling test file with fresh images in it,
 * qemu-nbd servers of them and clients of those (all closed after the file's
 * tests), scripted servers on unix sockets there (scripted-nbd-server.ts),
 * and checks of errors and extents.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvmcloneError } from '../../../shared/errors.js';
import { NbdClient, type NbdExtent } from '../../../agent/nbd/nbd-client.js';
import { startQemuNbd, type QemuNbdServer } from '../../../agent/nbd/qemu-nbd-server.js';
import { run } from './image-files.js';
import { listenScripted, type Script, type ScriptedServer } from './scripted-nbd-server.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const ALLOCATION = 'base:allocation';

/** The calling test file's directory, and what it makes there. */
export interface NbdImages {
  /** The temporary directory (made before the file's tests). */
  dir(): string;
  /** A fresh image of `size` bytes; raw ones optionally filled from `data`. */
  image(format: 'raw' | 'qcow2', size: number, data?: Buffer): Promise<string>;
  /** qemu-nbd serving `path` on a fresh socket. */
  serve(path: string, format: 'raw' | 'qcow2', options?: { readOnly?: boolean; bitmap?: string; exportName?: string }): Promise<QemuNbdServer>;
  /** A client of `server` (or of the socket at that path, with `exportName`). */
  connect(server: QemuNbdServer | string, metaContexts?: string[], exportName?: string): Promise<NbdClient>;
  /** A scripted NBD server on a fresh socket, stopped after the test that starts it. */
  scriptedServer(script: Script): Promise<ScriptedServer>;
}

/** A temporary directory for the calling test file; after its tests, every client and server made here is closed and the directory removed. */
export function useNbdImages(): NbdImages {
  let dir: string | undefined;
  let serial = 0;
  const servers: QemuNbdServer[] = [];
  const clients: NbdClient[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvmclone-nbd-'));
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const s of servers) await s.close().catch(() => undefined);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  const here = (): string => dir ?? assert.fail('the directory is made before the tests');
  return {
    dir: here,
    async image(format, size, data) {
      const path = join(here(), `img-${(serial += 1)}.${format}`);
      if (data !== undefined) await writeFile(path, data);
      else await run('qemu-img', ['create', '-q', '-f', format, path, String(size)]);
      return path;
    },
    async serve(path, format, options = {}) {
      const { readOnly = false, bitmap, exportName = 'vdb' } = options;
      const server = await startQemuNbd({
        image: path,
        format,
        socketPath: join(here(), `nbd-${(serial += 1)}.sock`),
        readOnly,
        exportName,
        bitmap,
        signal: new AbortController().signal,
      });
      servers.push(server);
      return server;
    },
    async connect(server, metaContexts = [ALLOCATION], exportName = 'vdb') {
      const path = typeof server === 'string' ? server : server.socketPath;
      const client = await NbdClient.connect(path, { exportName: typeof server === 'string' ? exportName : server.exportName, metaContexts });
      clients.push(client);
      return client;
    },
    async scriptedServer(script) {
      const server = await listenScripted(join(here(), `scripted-${(serial += 1)}.sock`), script);
      after(() => server.stop());
      return server;
    },
  };
}

export async function collect(it: AsyncIterable<NbdExtent>): Promise<NbdExtent[]> {
  const out: NbdExtent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

export function hasCode(code: string, pattern?: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof KvmcloneError, `expected a KvmcloneError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern !== undefined) assert.match(err.message, pattern);
    return true;
  };
}

/** Checks that extents tile [0, size) in order. */
export function assertTiles(extents: NbdExtent[], size: number): void {
  let at = 0;
  for (const e of extents) {
    assert.equal(e.offset, at);
    assert.ok(e.length > 0);
    at += e.length;
  }
  assert.equal(at, size);
}
