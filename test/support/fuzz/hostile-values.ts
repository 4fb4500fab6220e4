/**
 * Values an attacker would put into the agent's string fields: paths that
 * climb out of the roots (`..`, symlink chains, `/proc/self/root`), carry NUL
 * or control characters, are longer than PATH_MAX or a name component may be,
 * look like a root but are not (fullwidth solidus, Cyrillic letters, dot
 * leaders, zero-width and bidi characters), name devices, protocols and qemu
 * `json:` pseudo-files; VM names and ids of the same kind. Every made-up file
 * name carries the world's marker.
 */
import type { FuzzWorld } from './fuzz-world.js';
import { harvested } from './fuzz-world.js';
import type { Prng } from './prng.js';

/** Characters that look like `/`, `.` or Latin letters. */
const LOOKALIKES = [
  '\uFF0F',
  '\u2215',
  '\u2044',
  '\u29F8',
  '\uFF0E',
  '\u2024',
  '\u2025',
  '\u0430',
  '\u0435',
  '\u043E',
  '\u0456',
  '\u200D',
  '\u200B',
  '\u202E',
  '\uFEFF',
  '\u0307',
  'ı',
  'ſ',
  'K',
];

/** Replaces a few characters of `s` with look-alikes. */
function lookAlike(rng: Prng, s: string): string {
  const chars = [...s];
  const swaps = 1 + rng.int(3);
  for (let i = 0; i < swaps && chars.length > 0; i++) {
    const at = rng.int(chars.length);
    const c = chars[at];
    if (c === '/') chars[at] = rng.pick(['\uFF0F', '\u2215', '\u2044', '\u29F8']);
    else if (c === '.') chars[at] = rng.pick(['\uFF0E', '\u2024']);
    else if (c === 'a') chars[at] = '\u0430';
    else if (c === 'e') chars[at] = '\u0435';
    else if (c === 'o') chars[at] = '\u043E';
    else if (c === 'i') chars[at] = rng.pick(['\u0456', 'ı']);
    else chars.splice(at, 0, rng.pick(LOOKALIKES));
  }
  return chars.join('');
}

/** A short random text of printable ASCII, unicode and control characters. */
export function randomText(rng: Prng, max = 40): string {
  const n = rng.int(max + 1);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rng.int(10);
    if (r < 6) s += String.fromCharCode(0x20 + rng.int(95));
    else if (r < 8) s += rng.pick(LOOKALIKES);
    else if (r < 9) s += String.fromCharCode(rng.int(0x20));
    else s += String.fromCodePoint(rng.chance(0.5) ? 0x80 + rng.int(0xd800 - 0x80) : 0x1f600 + rng.int(80));
  }
  return s;
}

/** A fresh file name carrying the marker. */
export function markedName(rng: Prng, world: FuzzWorld, ext = rng.pick(['.qcow2', '.raw', '.img', '', '.fd', '.log'])): string {
  return `${world.marker}-${rng.u32().toString(36)}${ext}`;
}

/** Device, secret and kernel files a path may name directly. */
const SYSTEM_FILES = [
  '/etc/shadow',
  '/etc/passwd',
  '/dev/sda',
  '/dev/vda',
  '/dev/zero',
  '/dev/mem',
  '/proc/self/mem',
  '/proc/self/environ',
  '/proc/1/root/etc/shadow',
  '/sys/kernel/notes',
  '/',
  '/run/libvirt/libvirt-sock',
  '/root/.ssh/id_rsa',
];

/** Kinds 0-8 of hostilePath: the fixtures themselves, new names in a root, through symlinks, `..` out of a root, canaries. */
function fixturePath(rng: Prng, world: FuzzWorld, kind: number, root: string, name: string): string {
  switch (kind) {
    case 0:
    case 1:
    case 2:
      return rng.pick(world.images);
    case 3:
    case 4:
      return `${root}/${name}`;
    case 5:
      return rng.pick(world.links);
    case 6:
      return `${rng.pick(world.links)}/${name}`;
    case 7:
      return `${root}/${'../'.repeat(1 + rng.int(8))}${rng.pick(['etc', 'tmp', 'var/tmp', 'root', 'run'])}/${name}`;
    default:
      return rng.pick(world.canaries);
  }
}

/** Kinds 9-13 of hostilePath: a NUL inside, a name or a path too long, look-alike characters. */
function mangledPath(rng: Prng, world: FuzzWorld, kind: number, root: string, name: string): string {
  switch (kind) {
    case 9:
      return `${root}/${name}\u0000/etc/passwd`;
    case 10:
      return `${root}/${'x'.repeat(256 + rng.int(64))}${world.marker}`;
    case 11:
      return `${root}/${`${world.marker}/`.repeat(300 + rng.int(300))}${name}`;
    case 12:
      return lookAlike(rng, `${root}/${name}`);
    default:
      return lookAlike(rng, rng.pick(world.images));
  }
}

/** Kinds 14-17 of hostilePath: system files, /proc ways around the roots, qemu and libvirt pseudo-paths. */
function systemPath(rng: Prng, world: FuzzWorld, kind: number, name: string): string {
  switch (kind) {
    case 14:
      return rng.pick(SYSTEM_FILES);
    case 15:
      return `/proc/self/root${rng.pick(world.images)}`;
    case 16:
      return `/proc/self/fd/${rng.int(64)}`;
    default:
      return rng.pick([
        `json:{"file.filename":"/etc/shadow"}`,
        `nbd+unix:///x?socket=${rng.pick(world.sockets)}`,
        `file:/etc/shadow`,
        `${rng.pick(world.images)}:backing.file.filename=/etc/shadow`,
        `nbd:unix:${rng.pick(world.sockets)}`,
        `/.kvmclone-live/../../etc/${name}`,
        `/.kvmclone-live/${rng.u32().toString(16)}0000-0000/vda`,
      ]);
  }
}

/** Kinds 18-23 of hostilePath: odd spellings of a root, relative paths, harvested paths, sockets, random and shell characters. */
function oddPath(rng: Prng, world: FuzzWorld, kind: number, root: string, name: string): string {
  switch (kind) {
    case 18:
      return rng.pick([`${root}/`, `${root}//${name}`, `${root}/./${name}`, root, `${root}/.`, `${root}/..`]);
    case 19:
      return rng.pick([name, `images/${name}`, `../${name}`, '', '.', '..', '~/' + name]);
    case 20:
      return harvested(world, rng, 'path') ?? rng.pick(world.images);
    case 21:
      return rng.pick(world.sockets);
    case 22:
      return `${root}/${randomText(rng)}`;
    default:
      return `${root}/${name.replace('-', rng.pick(['\n', '\t', ' ', '\\', '"', "'", '$(', '`', ';', '|', '*', '?', '%']))}`;
  }
}

/** A path aimed at the agent's confinement: one of 24 kinds, drawn after the root and the name it may use. */
export function hostilePath(rng: Prng, world: FuzzWorld): string {
  const root = rng.pick(world.roots);
  const name = markedName(rng, world);
  const kind = rng.int(24);
  if (kind <= 8) return fixturePath(rng, world, kind, root, name);
  if (kind <= 13) return mangledPath(rng, world, kind, root, name);
  if (kind <= 17) return systemPath(rng, world, kind, name);
  return oddPath(rng, world, kind, root, name);
}

/** A VM name: harvested, made up (with the marker), or hostile. */
export function hostileVmName(rng: Prng, world: FuzzWorld): string {
  switch (rng.int(8)) {
    case 0:
    case 1:
    case 2:
      return harvested(world, rng, 'name') ?? `${world.marker}-vm${rng.int(4)}`;
    case 3:
    case 4:
      return `${world.marker}-vm${rng.int(4)}`;
    case 5:
      return rng.pick(['', '.', '..', '../etc', 'a/b', '-rf', '--help', `x\u0000y`, 'x'.repeat(300), 'test', 'a b', '$(id)']);
    case 6:
      return lookAlike(rng, `${world.marker}-vm${rng.int(4)}`);
    default:
      return randomText(rng, 80);
  }
}

/** An id (staging, operation, replica): well formed, harvested or hostile. */
export function hostileId(rng: Prng, world: FuzzWorld, kind: string): string {
  switch (rng.int(6)) {
    case 0:
    case 1:
      return harvested(world, rng, kind) ?? `${rng.u32().toString(16).padStart(8, '0')}-fz`;
    case 2:
      return `${rng.u32().toString(16).padStart(8, '0')}-${rng.u32().toString(16).padStart(8, '0')}`;
    case 3:
      return rng.pick(['', '../../etc/passwd', '.', `${world.marker}/x`, 'A'.repeat(64), 'a'.repeat(200), `ok-but\u0000nul`]);
    case 4:
      return lookAlike(rng, `${rng.u32().toString(16).padStart(8, '0')}-fz`);
    default:
      return randomText(rng, 70);
  }
}
