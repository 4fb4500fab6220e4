/**
 * Proof that the agent touched nothing outside its roots: a snapshot of a
 * canary tree (listing, types, modes, owners, sizes, mtimes, atimes, contents,
 * link targets) taken before and after a run, and a search for the fuzzer's
 * marker in the names of host directories an escape would land in.
 *
 * Reads are caught by atime: each canary's atime is set before its mtime,
 * which makes even a relatime mount record the next read. Taking a snapshot
 * reads the files too, so it puts every atime back afterwards.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink, utimes, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** What a snapshot records of one entry. */
export interface EntryFacts {
  type: 'file' | 'dir' | 'link' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  atimeNs: bigint;
  /** sha256 of a file's content, or a link's target. */
  content: string;
}

/** Path → facts of every entry under a tree (the root included). */
export type TreeSnapshot = Map<string, EntryFacts>;

/** Makes every file and directory under `root` show the next read (atime one hour before mtime). */
export async function armAtimes(root: string): Promise<void> {
  const snap = await statTree(root);
  for (const [path, facts] of snap) {
    if (facts.type === 'link') continue;
    // Whole seconds, so restoring them later (utimes takes a double) is exact.
    const mtime = Number(facts.mtimeNs / 1_000_000_000n);
    await utimes(path, mtime - 3600, mtime);
  }
}

async function statTree(root: string, out: TreeSnapshot = new Map()): Promise<TreeSnapshot> {
  const st = await lstat(root, { bigint: true });
  const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'other';
  out.set(root, { type, mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid), size: Number(st.size), mtimeNs: st.mtimeNs, atimeNs: st.atimeNs, content: '' });
  if (type === 'dir') for (const name of (await readdir(root)).sort()) await statTree(join(root, name), out);
  return out;
}

/** Snapshots `root` (stat first, then contents), then restores the atimes the reading changed. */
export async function snapshotTree(root: string): Promise<TreeSnapshot> {
  const snap = await statTree(root);
  for (const [path, facts] of snap) {
    if (facts.type === 'file')
      facts.content = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
    else if (facts.type === 'link') facts.content = await readlink(path);
  }
  for (const [path, facts] of snap) {
    if (facts.type === 'file' || facts.type === 'dir') await utimes(path, Number(facts.atimeNs / 1000n) / 1e6, Number(facts.mtimeNs / 1000n) / 1e6);
  }
  return snap;
}

/** Differences between two snapshots, one sentence each; atimes of `readable` paths are not compared. */
export function diffSnapshots(before: TreeSnapshot, after: TreeSnapshot, options: { compareAtime: boolean; readable?: ReadonlySet<string> }): string[] {
  const out: string[] = [];
  for (const [path, a] of before) {
    const b = after.get(path);
    if (!b) {
      out.push(`${path} was removed`);
      continue;
    }
    for (const key of ['type', 'mode', 'uid', 'gid', 'size', 'mtimeNs', 'content'] as const) {
      if (a[key] !== b[key]) out.push(`${path}: ${key} changed (${String(a[key]).slice(0, 80)} -> ${String(b[key]).slice(0, 80)})`);
    }
    if (options.compareAtime && !options.readable?.has(path) && a.atimeNs !== b.atimeNs) out.push(`${path} was read (atime changed)`);
  }
  for (const path of after.keys()) if (!before.has(path)) out.push(`${path} was created`);
  return out;
}

/** True when reads show in atime under `dir` (false on noatime mounts: reads then go unchecked). */
export async function atimeRecordsReads(dir: string): Promise<boolean> {
  const probe = join(dir, '.atime-probe');
  await writeFile(probe, 'probe');
  try {
    const st = await lstat(probe);
    await utimes(probe, st.mtimeMs / 1000 - 3600, st.mtimeMs / 1000);
    const armed = (await lstat(probe, { bigint: true })).atimeNs;
    await readFile(probe);
    return (await lstat(probe, { bigint: true })).atimeNs !== armed;
  } finally {
    await rm(probe, { force: true });
  }
}

/** Paths under `dirs` (to `depth` levels, `skip` excluded) whose name contains `marker`. */
export async function findMarker(dirs: readonly string[], marker: string, depth: number, skip: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, level: number): Promise<void> => {
    if (skip.some((s) => dir === s || dir.startsWith(`${s}/`))) return;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (name.includes(marker)) found.push(path);
      if (level < depth) {
        const st = await lstat(path).catch(() => undefined);
        if (st?.isDirectory()) await walk(path, level + 1);
      }
    }
  };
  for (const dir of dirs) await walk(dir, 1);
  return found;
}

/** Every entry name under `dir` to `depth` levels (for "nothing new in /etc"). */
export async function listNames(dir: string, depth: number): Promise<Set<string>> {
  const names = new Set<string>();
  const walk = async (d: string, level: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(d, e.name);
      names.add(path);
      if (level < depth && e.isDirectory()) await walk(path, level + 1);
    }
  };
  await walk(dir, 1);
  return names;
}
