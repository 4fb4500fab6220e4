/**
 * The live guest (test/testbed/live-guest/) from tests: a Linux guest that
 * rewrites its disk vdb in numbered passes while it runs, and a checker that
 * tells whether a copy of that disk is one point in time. Live clone and sync
 * tests make it, wait for its passes, copy its disk, and check the copy.
 *
 * The testbed scripts are found from this file's build location, so a build
 * into any outDir (dist/, /tmp/…) runs the scripts of the source tree.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { E2E_DIR, TESTBED_DIR } from './testbed.js';

const run = promisify(execFile);
const MARKER = join('live-guest', 'check-vdb.mjs');

/**
 * test/testbed of the source tree: testbed.ts's guess (right for dist/), else the
 * source map of this file (the build has sourceMap on), else above the cwd.
 */
function findTestbedDir(): string {
  const candidates = [TESTBED_DIR];
  const self = fileURLToPath(import.meta.url);
  try {
    const map = JSON.parse(readFileSync(`${self}.map`, 'utf8')) as { sources?: string[]; sourceRoot?: string };
    if (map.sources?.[0]) candidates.push(join(dirname(resolve(dirname(self), map.sourceRoot ?? '', map.sources[0])), '..', 'testbed'));
  } catch {
    // no source map: fall through
  }
  for (let d = process.cwd(); ; d = dirname(d)) {
    candidates.push(join(d, 'test', 'testbed'));
    if (dirname(d) === d) break;
  }
  const found = candidates.find((c) => existsSync(join(c, MARKER)));
  if (!found) throw new Error(`test/testbed not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** The testbed scripts dir of the source tree (see the module comment). */
export const LIVE_TESTBED_DIR = findTestbedDir();

/** Runs test/testbed/SCRIPT with this process's E2E dir; resolves with stdout. */
export async function runTestbed(script: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await run(join(LIVE_TESTBED_DIR, script), args, {
      env: { ...process.env, E2E: E2E_DIR, ...opts.env },
      timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${script} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** Runs argv inside testbed host `host`; resolves with stdout. */
export function inHost(host: string, argv: string[]): Promise<string> {
  return runTestbed('host-exec.sh', [host, ...argv]);
}

const virsh = (host: string, args: string[]): Promise<string> => inHost(host, ['virsh', '-q', '-c', 'qemu:///system', ...args]);

let built: Promise<string> | undefined;

/**
 * Builds the guest's kernel + initramfs into the cache ($E2E/.live-guest, or
 * LIVE_GUEST_CACHE) once per machine; later calls cost ~0.1 s. Resolves with the cache dir.
 */
export function ensureLiveGuestBuilt(): Promise<string> {
  if (!built) {
    built = runTestbed('live-guest.sh', ['build'], { timeoutMs: 600_000 }).then((out) => out.trim().split('\n').pop() ?? '');
    built.catch(() => (built = undefined)); // a failed build is retried by the next caller
  }
  return built;
}

/** Options of {@link makeLiveGuest}. */
export interface LiveGuestOptions {
  /** Size of vdb, the disk the guest rewrites; a pass takes ~0.2 s per MiB under TCG. Default 32. */
  vdbMb?: number;
  /** Domain type: 'qemu' (TCG, the default: the testbed's /dev/kvm cannot boot Linux) or 'kvm'. */
  type?: 'qemu' | 'kvm';
  /** Add a qemu-guest-agent channel that nobody answers. */
  gaChannel?: boolean;
}

/** Defines (does not start) live guest `vm` on `host`: VM-vda.qcow2, VM-vdb.qcow2, serial log VM-serial.log. */
export async function makeLiveGuest(host: string, vm: string, opts: LiveGuestOptions = {}): Promise<void> {
  await ensureLiveGuestBuilt();
  const args = ['make', host, vm, '--vdb-mb', String(opts.vdbMb ?? 32), '--type', opts.type ?? 'qemu'];
  if (opts.gaChannel) args.push('--ga-channel');
  await runTestbed('live-guest.sh', args);
}

/** The guest's serial log, seen from outside the host. */
export function liveGuestLog(host: string, vm: string): string {
  return join(E2E_DIR, host, 'var-log-libvirt', 'qemu', `${vm}-serial.log`);
}

/** One pass of the writer, in guest uptime seconds (`done` absent while it runs). */
export interface Pass {
  n: number;
  start: number;
  done?: number;
}

/** The passes logged so far (`GP t=… PASS n start|done`), in order; throws on a guest failure. */
export async function readPasses(host: string, vm: string): Promise<Pass[]> {
  let text: string;
  try {
    text = await readFile(liveGuestLog(host, vm), 'latin1');
  } catch {
    return [];
  }
  const failure = /GP t=\S+ FATAL: .*|Kernel panic.*/.exec(text);
  if (failure) throw new Error(`live guest ${vm} on ${host} failed: ${failure[0]}`);
  const passes = new Map<number, Pass>();
  for (const m of text.matchAll(/^GP t=([\d.]+) PASS (\d+) (start|done)/gm)) {
    const n = Number(m[2]);
    const t = Number(m[1]);
    if (m[3] === 'start') passes.set(n, { n, start: t });
    else if (passes.has(n)) passes.get(n)!.done = t;
  }
  return [...passes.values()].sort((a, b) => a.n - b.n);
}

/** Waits until pass `n` is done (written and fsynced); resolves with it. */
export async function waitForPass(host: string, vm: string, n: number, timeoutMs: number): Promise<Pass> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const pass = (await readPasses(host, vm)).find((p) => p.n === n && p.done !== undefined);
    if (pass) return pass;
    if (Date.now() > until) {
      const tail = (await readFile(liveGuestLog(host, vm), 'latin1').catch(() => '(no log)')).split('\n').slice(-8).join('\n');
      throw new Error(`live guest ${vm} on ${host}: pass ${n} not done after ${timeoutMs} ms; log tail:\n${tail}`);
    }
    await sleep(200);
  }
}

/** The checker's verdict; `report` is its JSON line (pass, boundary, counts, problems). */
export interface PointInTimeCheck {
  ok: boolean;
  detail: string;
  report?: { pass: number; boundary: number; counts: Record<string, number>; problems: string[] };
}

/**
 * Checks that `imagePath` (raw, or qcow2) is one point in time of the writer:
 * whole blocks, passes n…n then n−1…n−1. `blocks` limits the check to the first
 * blocks (64 KiB each); `allowTorn` accepts the one write in flight at the cut.
 */
export async function checkPointInTime(imagePath: string, opts: { blocks?: number; allowTorn?: boolean } = {}): Promise<PointInTimeCheck> {
  const args = [join(LIVE_TESTBED_DIR, MARKER), imagePath];
  if (opts.blocks !== undefined) args.push('--blocks', String(opts.blocks));
  if (opts.allowTorn) args.push('--allow-torn');
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, args, { maxBuffer: 1024 * 1024 }));
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    if (e.code !== 1 || !e.stdout) throw new Error(`check-vdb.mjs ${imagePath} failed: ${e.message}\n${e.stderr ?? ''}`);
    stdout = e.stdout;
  }
  const report = JSON.parse(stdout) as PointInTimeCheck['report'] & { ok: boolean };
  return { ok: report.ok, detail: stdout.trim(), report };
}

/** Where {@link hostWrite} writes and what. */
export interface HostWrite {
  /** The byte written over the whole range (0..255). */
  pattern: number;
  offset: number;
  length: number;
  /** Guest disk by target name; default 'vdb'. Must be a virtio disk. */
  disk?: string;
}

/**
 * Writes into a running (or paused) guest's disk from the host, through QEMU's
 * block layer (HMP qemu-io on the virtio device), then flushes, so the image
 * file holds the bytes at once — as if the guest had written them. QEMU prints
 * qemu-io's answer on its stdout (the domain log), so that is where the write is
 * confirmed; a failed (e.g. past the end of the disk) or unconfirmed write throws.
 */
export async function hostWrite(host: string, vm: string, w: HostWrite): Promise<void> {
  const disk = w.disk ?? 'vdb';
  if (!/^[a-z]{2,8}$/.test(disk)) throw new Error(`bad disk name '${disk}'`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(vm)) throw new Error(`bad VM name '${vm}'`);
  if (!(Number.isInteger(w.pattern) && w.pattern >= 0 && w.pattern <= 255)) throw new Error(`pattern must be a byte, got ${w.pattern}`);
  if (!(Number.isSafeInteger(w.offset) && w.offset >= 0 && Number.isSafeInteger(w.length) && w.length > 0)) throw new Error('offset/length must be integers');
  const xml = await virsh(host, ['dumpxml', vm]);
  const dev = [...xml.matchAll(/<disk\b[\s\S]*?<\/disk>/g)].map((m) => m[0]).find((d) => d.includes(`<target dev='${disk}'`));
  const alias = dev && /<target [^>]*bus='virtio'/.test(dev) ? /<alias name='([^']+)'/.exec(dev)?.[1] : undefined;
  if (!alias) throw new Error(`${vm} on ${host} has no running virtio disk ${disk}`);

  const log = join(E2E_DIR, host, 'var-log-libvirt', 'qemu', `${vm}.log`);
  const from = (await stat(log)).size;
  const io = (cmd: string): string => `qemu-monitor-command ${vm} --hmp 'qemu-io -d /machine/peripheral/${alias}/virtio-backend "${cmd}"'`;
  const hex = `0x${w.pattern.toString(16).padStart(2, '0')}`;
  // one virsh, two commands: each virsh costs a libvirt connection (~0.3 s on a busy testbed)
  await virsh(host, [`${io(`write -P ${hex} ${w.offset} ${w.length}`)}; ${io('flush')}`]);
  const wrote = `wrote ${w.length}/${w.length} bytes at offset ${w.offset}\n`;
  for (let i = 0; i < 50; i += 1) {
    const fh = await open(log, 'r');
    let out: string;
    try {
      const { size } = await fh.stat();
      const buf = Buffer.alloc(Math.max(0, size - from));
      await fh.read(buf, 0, buf.length, from);
      out = buf.toString('utf8');
    } finally {
      await fh.close();
    }
    const failed = /^(write|flush) failed: .*$/m.exec(out);
    if (failed) throw new Error(`hostWrite on ${vm}/${disk}: ${failed[0]}`);
    if (out.includes(wrote)) return;
    await sleep(100);
  }
  throw new Error(`hostWrite on ${vm}/${disk}: QEMU did not confirm "${wrote.trim()}" in ${log}`);
}
