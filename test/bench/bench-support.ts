/**
 * Pieces the testbed benchmarks share: timing, shell, image making, agent
 * RSS, routing the two hosts to each other for the rsync baselines, and
 * running kvmctl under a wrapper that reports its peak RSS.
 */
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KVMCTL_MAIN } from '../support/kvmctl.js';
import { E2E_DIR, sshConfigPath } from '../support/testbed.js';
import { processCpu } from './cpu-sampler.js';

export const run = promisify(execFile);

/** Reads only the allocated (data) extents of a file to stdout: the bytes any tool must move (the raw channel baselines). */
export const DATA_READER = `
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY); end = os.fstat(fd).st_size; pos = 0; out = sys.stdout.buffer
while pos < end:
    try: pos = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError: break
    hole = os.lseek(fd, pos, os.SEEK_HOLE)
    while pos < hole:
        chunk = os.pread(fd, min(4 << 20, hole - pos), pos); out.write(chunk); pos += len(chunk)
`;

/**
 * Fills half of a sparse image (or the fraction given as a third argument)
 * with unique random data: 64 MiB runs of fresh
 * /dev/urandom bytes at seeded, run-aligned places. Every byte is new — an
 * image made by copying one random pool again and again (what this used to
 * do) sends rsync's rolling-checksum search down long candidate chains and
 * slowed it by about half, which flattered kvmclone's ratios (issue 13).
 */
export const IMAGE_WRITER = `
import os, sys, random
path, size_gib = sys.argv[1], int(sys.argv[2]); fraction = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
run = 64 << 20; runs = (size_gib << 30) // run
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600); os.ftruncate(fd, size_gib << 30)
for slot in sorted(random.Random(7).sample(range(runs), int(runs * fraction))):
    for piece in range(0, run, 8 << 20):
        os.pwrite(fd, os.urandom(8 << 20), slot * run + piece)
os.fsync(fd); os.close(fd)
`;

/** Overwrites 1 % of the 64 KiB blocks of a file at scattered offsets (seeded by argv[2]) with fresh random bytes; prints how many. */
export const BLOCK_CHANGER = `
import os, sys, random
path, seed = sys.argv[1], int(sys.argv[2])
blocks = os.stat(path).st_size // 65536; rng = random.Random(seed)
picks = rng.sample(range(blocks), blocks // 100)
fd = os.open(path, os.O_WRONLY)
for b in picks: os.pwrite(fd, os.urandom(65536), b * 65536)
os.fsync(fd); os.close(fd); print(len(picks))
`;

export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - t) / 1e9, value };
}

export async function sh(script: string): Promise<string> {
  return (await run('bash', ['-c', script], { maxBuffer: 64 << 20 })).stdout;
}

/** PID of the agent on testbed host `host`, from the testbed's pid file. */
export async function agentPid(host: string): Promise<string> {
  return (await readFile(join(E2E_DIR, host, 'pids', 'agent.pid'), 'utf8')).trim();
}

export async function agentPeakRss(host: string): Promise<number> {
  const status = await readFile(`/proc/${await agentPid(host)}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** CPU seconds (user + system, all threads) the agent on `host` has used since it started. */
export async function agentCpuSeconds(host: string): Promise<number> {
  const pid = await agentPid(host);
  const cpu = processCpu(pid);
  if (cpu === undefined) throw new Error(`the agent of ${host} (pid ${pid}) is gone`);
  return cpu.seconds;
}

/** Runs kvmctl with `args` (after the testbed's global flags); resolves with seconds, the result line and the peak RSS. */
export async function timedKvmctl(args: string[], state: string): Promise<{ seconds: number; result: Record<string, unknown>; rss: number }> {
  const wrapper =
    'import resource, subprocess, sys\nr = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)\nsys.stdout.write(r.stdout.decode())\nprint("RSS", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\nsys.exit(r.returncode)';
  const argv = [KVMCTL_MAIN, '--ssh-config', sshConfigPath(), '--json', ...args];
  const { seconds, value } = await timed(
    () =>
      new Promise<string>((resolve, reject) => {
        const child = spawn('python3', ['-c', wrapper, process.execPath, ...argv], { env: { ...process.env, XDG_STATE_HOME: state }, stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
        child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`kvmctl ${args.join(' ')} exited ${code}:\n${out.slice(-2000)}`))));
      }),
  );
  const result = JSON.parse(
    value
      .split('\n')
      .filter((l) => l.startsWith('{"type":"result"'))
      .at(-1) ?? '{}',
  ) as Record<string, unknown>;
  return { seconds, result, rss: Number(/RSS (\d+)/.exec(value)?.[1] ?? 0) * 1024 };
}
