/**
 * The two testbed hosts of the fault matrix and what the checker reads from
 * them from outside kvmctl's run: domains, image files, digests, and the
 * leftovers their agents list. The destination's images directory is a small
 * loop filesystem (so it can be filled up); the source's is a FUSE
 * passthrough when the I/O-error injector is in use.
 */
import { hostDown, hostExec, hostUp, IMAGES } from '../../support/testbed.js';
import { kvmctl } from '../../support/kvmctl.js';
import { domains } from '../../support/host-inventory.js';

/** Where the operations read from. */
export const SRC = 'hosta';
/** Where they write to. */
export const DST = 'hostb';
/** The images directory inside every host. */
export { IMAGES };
/** The destination's images filesystem: room for every copy the matrix keeps there, small enough to fill in a second. */
export const DST_IMAGES_MB = 1400;

/** Brings both hosts up fresh (takes the testbed lock for this process); `sourceEnv` e.g. IMAGES_EIO=1. */
export async function faultHostsUp(sourceEnv: NodeJS.ProcessEnv): Promise<void> {
  await Promise.all([SRC, DST].map(hostDown));
  await hostUp(SRC, 1, sourceEnv);
  await hostUp(DST, 2, { IMAGES_SIZE_MB: String(DST_IMAGES_MB) });
}

/** Tears both hosts down. */
export async function faultHostsDown(): Promise<void> {
  await Promise.all([SRC, DST].map(hostDown));
}

/** virsh on `host` (quiet), and the names in the host's images directory, hidden ones included. */
export { imageFiles, virsh } from '../../support/host-inventory.js';

/** Whether domain `vm` is defined on `host`. */
export async function domainDefined(host: string, vm: string): Promise<boolean> {
  return (await domains(host)).includes(vm);
}

/**
 * A digest of each image in `files` (names in the images directory), '' for
 * one that does not exist. `content`: of what a guest sees (qcow2 read
 * through qemu-img with -U, for images a running guest has open and whose
 * metadata — dirty bitmaps — legitimately changes); else sha256 of the file's
 * bytes, the strictest check.
 */
export async function digests(host: string, files: readonly string[], content: boolean): Promise<Record<string, string>> {
  const script = [
    'set -e',
    `cd ${IMAGES}`,
    'for f in "$@"; do',
    '  if [ ! -e "$f" ]; then echo "- $f"; continue; fi',
    content
      ? '  t=$(mktemp /tmp/kvmclone-faults-XXXXXX.raw); qemu-img convert -U -O raw "$f" "$t"; d=$(sha256sum "$t" | cut -d" " -f1); rm -f "$t"; echo "$d $f"'
      : '  echo "$(sha256sum "$f" | cut -d" " -f1) $f"',
    'done',
  ].join('\n');
  const out = await hostExec(host, ['bash', '-c', script, 'digests', ...files]);
  const result: Record<string, string> = {};
  for (const line of out.split('\n').filter(Boolean)) {
    const [digest, name] = line.split(' ') as [string, string];
    result[name] = digest === '-' ? '' : digest;
  }
  return result;
}

/** One leftover as `kvmctl hosts check --json` lists it. */
export interface Leftover {
  kind: string;
  path: string;
  operationId: string;
  running: boolean;
  keepReason: string;
}

/** Each host's leftovers, as its agent lists them (through kvmctl hosts check); throws if a host cannot be checked. */
export async function leftovers(stateDir: string, hosts: readonly string[] = [SRC, DST]): Promise<Record<string, Leftover[]>> {
  const out = await kvmctl(['--json', 'hosts', 'check', ...hosts], { stateDir });
  const rows = (out.result?.hosts ?? []) as { host: string; ok: boolean; leftovers?: Leftover[] | null; error?: { message: string } }[];
  const result: Record<string, Leftover[]> = {};
  for (const h of hosts) {
    const row = rows.find((r) => r.host === h);
    if (!row?.ok) throw new Error(`hosts check ${h} failed: ${row?.error?.message ?? `${out.stdout.slice(-500)}${out.stderr.slice(-500)}`}`);
    result[h] = row.leftovers ?? [];
  }
  return result;
}

/** Whether `name` is a file an operation left beside images (staging file, sync journal, live scratch file). */
export function isWorkFile(name: string): boolean {
  return /kvmclone-(staging|journal|scratch)/.test(name);
}
