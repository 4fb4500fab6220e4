/**
 * The files a fuzz target's agent is set loose on: a fresh directory with two
 * image roots holding qcow2 and raw images (one owned by another user, mode
 * 0600, one whose header names a backing file outside), symlinks out of the
 * roots (single, chained, dangling, to directories, relative), a hard link to
 * a canary, and the canary tree outside the roots with its atimes armed. Kept
 * apart from fuzz-target.ts, which starts libvirt and the agent on them, so
 * that each file holds one concern; the layout is the same as when they were
 * one.
 */
import { execFile as execFileCb } from 'node:child_process';
import { chown, chmod, link, lstat, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { armAtimes } from './canary.js';

const execFile = promisify(execFileCb);

/** uid/gid that owns some images (libvirt-qemu on Debian); the agent needs CAP_DAC_OVERRIDE for them. */
const OTHER_OWNER = 64055;

/** Whether this process runs as root. */
export const isRoot = (): boolean => process.getuid?.() === 0;

async function qemuImg(...args: string[]): Promise<void> {
  await execFile('qemu-img', args);
}

/** Where the fixture images and links go. */
export interface Layout {
  roots: string[];
  outside: string;
  /** base.qcow2, data.raw, overlay.qcow2 (backed by base), owned-by-qemu.qcow2, backing-outside.qcow2. */
  images: string[];
  /** [link, target] pairs. */
  links: Array<[string, string]>;
  /** [hard link under a root, canary it links to]. */
  hard: [string, string];
}

/** A fuzz target's directory and what was planted in it. */
export interface FuzzFixtures {
  /** Appears in every name the fuzzer makes up. */
  marker: string;
  base: string;
  roots: string[];
  /** The canary tree outside the roots. */
  outside: string;
  /** The agent's runtime directory (its sockets). */
  run: string;
  layout: Layout;
}

/** Creates whichever fixture images and links are missing (all of them the first time). */
export async function plantImages(layout: Layout): Promise<void> {
  const [a, b, c, owned, evil] = layout.images as [string, string, string, string, string];
  const missing = async (p: string): Promise<boolean> =>
    lstat(p).then(
      () => false,
      () => true,
    );
  if (await missing(a)) await qemuImg('create', '-q', '-f', 'qcow2', a, '4M');
  if (await missing(b)) {
    await writeFile(b, Buffer.concat([Buffer.alloc(65536, 0x41), Buffer.alloc(65536 * 3)]));
  }
  if (await missing(c)) await qemuImg('create', '-q', '-f', 'qcow2', '-b', a, '-F', 'qcow2', c, '4M');
  if (await missing(owned)) {
    await qemuImg('create', '-q', '-f', 'qcow2', owned, '2M');
    if (isRoot()) await chown(owned, OTHER_OWNER, OTHER_OWNER);
    await chmod(owned, 0o600);
  }
  // A qcow2 under the roots whose header names a backing file outside them.
  if (await missing(evil)) await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', join(layout.outside, 'secret.qcow2'), '-F', 'qcow2', evil, '4M');
  for (const [path, target] of layout.links) if (await missing(path)) await symlink(target, path);
  if (await missing(layout.hard[0])) await link(layout.hard[1], layout.hard[0]).catch(() => undefined);
}

async function plantCanaries(outside: string, marker: string): Promise<void> {
  await mkdir(join(outside, 'dir'), { recursive: true });
  await writeFile(join(outside, 'secret.txt'), `canary ${marker}\n`);
  await writeFile(join(outside, 'dir', 'nested.txt'), 'nested canary\n');
  await qemuImg('create', '-q', '-f', 'qcow2', join(outside, 'secret.qcow2'), '4M');
  await qemuImg('create', '-q', '-f', 'qcow2', join(outside, 'hard-secret.qcow2'), '4M');
  await writeFile(join(outside, 'VARS.fd'), Buffer.alloc(4096, 0x55));
}

function fixtureLayout(roots: string[], outside: string, marker: string): Layout {
  const [r1, r2] = roots as [string, string];
  return {
    roots,
    outside,
    images: [join(r1, 'base.qcow2'), join(r1, 'data.raw'), join(r2, 'overlay.qcow2'), join(r2, 'owned-by-qemu.qcow2'), join(r1, 'backing-outside.qcow2')],
    links: [
      [join(r1, 'link-secret.qcow2'), join(outside, 'secret.qcow2')],
      [join(r1, 'chain-1.qcow2'), join(r1, 'chain-2.qcow2')],
      [join(r1, 'chain-2.qcow2'), join(r2, 'chain-3.qcow2')],
      [join(r2, 'chain-3.qcow2'), join(outside, 'secret.qcow2')],
      [join(r1, 'up-link.txt'), '../outside/secret.txt'],
      [join(r1, 'dir-link'), outside],
      [join(r2, 'etc-link'), '/etc'],
      [join(r1, `dangling-${marker}.qcow2`), join(outside, `created-through-${marker}.qcow2`)],
      [join(r2, `dangling-nvram-${marker}.fd`), join(outside, `nvram-through-${marker}.fd`)],
      [join(r1, 'VARS.fd'), join(outside, 'VARS.fd')],
    ],
    hard: [join(r2, 'hard.qcow2'), join(outside, 'hard-secret.qcow2')],
  };
}

/** Makes a fresh directory under /var/tmp and plants the roots, images, links and canaries of seed `seed`. */
export async function makeFixtures(seed: number): Promise<FuzzFixtures> {
  const marker = `kfz${seed.toString(36)}`;
  const base = await mkdtemp('/var/tmp/kvmclone-fuzz-');
  const roots = [join(base, 'images'), join(base, 'images2')];
  const outside = join(base, 'outside');
  const run = join(base, 'run');
  for (const d of [...roots, run]) await mkdir(d, { recursive: true });
  await plantCanaries(outside, marker);
  const layout = fixtureLayout(roots, outside, marker);
  await plantImages(layout);
  await armAtimes(outside);
  return { marker, base, roots, outside, run, layout };
}
