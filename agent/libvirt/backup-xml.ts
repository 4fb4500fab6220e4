/**
 * The documents of libvirt's backup API (libvirt 9.0, formatbackup.html and
 * formatcheckpoint.html): builders for the pull-mode `<domainbackup>` and the
 * `<domaincheckpoint>` a job begins with, and readers for what virsh gives
 * back — `backup-dumpxml`, `checkpoint-dumpxml [--size]`, `checkpoint-list
 * --parent`, `domjobinfo --rawstats`, and `<backup>` in domain capabilities.
 *
 * Builders validate every name and path and escape every value, so a value
 * can never add an element or attribute. Readers use the strict parser of
 * shared/xml/parse-xml.ts (no DOCTYPE, no entities).
 *
 * Behaviour of libvirt 9.0 these builders encode (checked in
 * test/integration/libvirt-backup-checkpoints.test.ts): a disk listed for backup without
 * a `<scratch>` fails ("argument key 'filename' must not have null value"),
 * so a scratch path is always given; without `<disks>` every disk is
 * exported with a scratch file next to its image; disks left out of a listed
 * `<disks>` are not exported and get no bitmap.
 */
import { invalidArgument } from '../../shared/errors.js';
import { parseXml } from '../../shared/xml/parse-xml.js';
import { attr, child, childrenNamed, textContent, type XmlElement } from '../../shared/xml/xml-tree.js';
import type { BackupJobDisk, BackupJobRecord, CheckpointDisk, CheckpointRecord, CheckpointSummary, DomainJobRecord } from './libvirt-port.js';

/**
 * Checkpoint names: libvirt's pattern (no leading '.', no '/') made a little
 * stricter — no leading '-', so a name can never read as a virsh option.
 */
const CHECKPOINT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/;
/** Disk targets (vda, sdb, hdc, xvda): letters first, nothing XML or a shell would read. */
const DISK_TARGET = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
/** Longest unix socket path: sun_path holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
/** Control characters XML 1.0 cannot carry at all. */
// eslint-disable-next-line no-control-regex -- the characters XML 1.0 cannot carry
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

/** INVALID_ARGUMENT unless `name` is a checkpoint name libvirt accepts and virsh cannot misread. */
export function validCheckpointName(name: string, what = 'checkpoint name'): string {
  if (!CHECKPOINT_NAME.test(name)) {
    throw invalidArgument(`${what}: ${JSON.stringify(name.slice(0, 60))} is not a checkpoint name (1 to 200 of A-Z a-z 0-9 _ . -, not starting with '.' or '-')`);
  }
  return name;
}

function checkTarget(target: string, what: string): string {
  if (!DISK_TARGET.test(target)) throw invalidArgument(`${what}: ${JSON.stringify(target.slice(0, 40))} is not a disk target such as vda`);
  return target;
}

function checkPath(path: string, what: string): string {
  if (!path.startsWith('/') || path.includes('\n') || path.includes('\r') || NOT_XML.test(path) || path.length > 4096) {
    throw invalidArgument(`${what}: ${JSON.stringify(path.slice(0, 80))} is not an absolute path`);
  }
  return path;
}

/** Escapes text for an XML attribute in single or double quotes, or for element content. */
export function escapeXml(value: string): string {
  if (NOT_XML.test(value)) throw invalidArgument(`${JSON.stringify(value.slice(0, 40))} holds characters XML cannot carry`);
  return value.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`);
}

/** A pull-mode backup job. */
export interface PullBackupSpec {
  /** Unix socket the NBD server listens on (its directory must exist; at most 107 bytes). */
  socket: string;
  /** Checkpoint to be incremental from, or '' for a full backup. */
  incremental: string;
  /** The disks to export, each with its scratch file (which must not exist yet). */
  disks: ReadonlyArray<{ target: string; scratch: string }>;
  /** Disks written with backup='no' (disks not named at all are not exported either). */
  skip?: readonly string[];
}

/** Builds the `<domainbackup mode='pull'>` of a job serving `spec.disks` over a unix socket. */
export function buildBackupXml(spec: PullBackupSpec): string {
  const socket = checkPath(spec.socket, 'backup socket');
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) throw invalidArgument(`backup socket: ${socket} is longer than ${MAX_SOCKET_PATH_BYTES} bytes (a unix socket path limit)`);
  if (spec.disks.length === 0) throw invalidArgument('backup: no disk to export');
  const seen = new Set<string>();
  const once = (target: string): string => {
    if (seen.has(target)) throw invalidArgument(`backup: disk ${target} is named twice`);
    seen.add(target);
    return target;
  };
  const lines = [`<domainbackup mode='pull'>`];
  if (spec.incremental !== '') lines.push(`  <incremental>${escapeXml(validCheckpointName(spec.incremental, 'incremental checkpoint'))}</incremental>`);
  lines.push(`  <server transport='unix' socket='${escapeXml(socket)}'/>`, '  <disks>');
  for (const d of spec.disks) {
    const target = once(checkTarget(d.target, 'backup disk'));
    lines.push(
      `    <disk name='${escapeXml(target)}' backup='yes' type='file'>`,
      `      <driver type='qcow2'/>`,
      `      <scratch file='${escapeXml(checkPath(d.scratch, `scratch file of ${target}`))}'/>`,
      '    </disk>',
    );
  }
  for (const t of spec.skip ?? []) lines.push(`    <disk name='${escapeXml(once(checkTarget(t, 'skipped disk')))}' backup='no'/>`);
  lines.push('  </disks>', '</domainbackup>', '');
  return lines.join('\n');
}

/** A checkpoint to create. */
export interface CheckpointSpec {
  name: string;
  description?: string;
  /** Every disk to mention: `bitmap` true tracks it (qcow2 only: libvirt 9.0 refuses raw), false writes checkpoint='no'. */
  disks: ReadonlyArray<{ target: string; bitmap: boolean }>;
}

/** Builds the `<domaincheckpoint>` to create with a job (or alone). */
export function buildCheckpointXml(spec: CheckpointSpec): string {
  const name = validCheckpointName(spec.name);
  const description = spec.description ?? '';
  if (description.length > 4096) throw invalidArgument('checkpoint description: longer than 4096 characters');
  if (!spec.disks.some((d) => d.bitmap)) throw invalidArgument(`checkpoint ${name}: no disk to track`);
  const seen = new Set<string>();
  const lines = ['<domaincheckpoint>', `  <name>${escapeXml(name)}</name>`];
  if (description !== '') lines.push(`  <description>${escapeXml(description)}</description>`);
  lines.push('  <disks>');
  for (const d of spec.disks) {
    const target = checkTarget(d.target, 'checkpoint disk');
    if (seen.has(target)) throw invalidArgument(`checkpoint ${name}: disk ${target} is named twice`);
    seen.add(target);
    lines.push(`    <disk name='${escapeXml(target)}' checkpoint='${d.bitmap ? 'bitmap' : 'no'}'/>`);
  }
  lines.push('  </disks>', '</domaincheckpoint>', '');
  return lines.join('\n');
}

function rootNamed(xml: string, name: string, what: string): XmlElement {
  const root = parseXml(xml, what);
  if (root.name !== name || root.uri !== '') throw invalidArgument(`${what}: the root element is <${root.name}>, not <${name}>`);
  return root;
}

function unsigned(value: string, what: string): number {
  const trimmed = value.trim();
  if (!/^\d{1,16}$/.test(trimmed) || !Number.isSafeInteger(Number(trimmed))) throw invalidArgument(`${what}: ${JSON.stringify(value.slice(0, 40))} is not a count`);
  return Number(trimmed);
}

/**
 * Reads a `<domainbackup>`: libvirt's description of a running job
 * (`backup-dumpxml`, where every default is filled in) or a job's request.
 */
export function parseBackupXml(xml: string): BackupJobRecord {
  const root = rootNamed(xml, 'domainbackup', 'backup XML');
  const server = child(root, 'server');
  const disks: BackupJobDisk[] = childrenNamed(child(root, 'disks'), 'disk').map((d) => {
    const scratch = child(d, 'scratch');
    const backup = attr(d, 'backup') !== 'no';
    return {
      target: attr(d, 'name'),
      backup,
      mode: backup ? attr(d, 'backupmode') : '',
      incremental: attr(d, 'incremental'),
      exportName: attr(d, 'exportname'),
      exportBitmap: attr(d, 'exportbitmap'),
      scratch: attr(scratch, 'file') || attr(scratch, 'dev'),
    };
  });
  return {
    mode: attr(root, 'mode') || 'push',
    incremental: textContent(child(root, 'incremental')).trim(),
    socket: attr(server, 'transport') === 'unix' ? attr(server, 'socket') : '',
    disks,
  };
}

/** Reads a `<domaincheckpoint>` (`checkpoint-dumpxml`, with or without `--size` and `<domain>`). */
export function parseCheckpointXml(xml: string): CheckpointRecord {
  const root = rootNamed(xml, 'domaincheckpoint', 'checkpoint XML');
  const name = textContent(child(root, 'name')).trim();
  if (name === '') throw invalidArgument('checkpoint XML: <name> is missing');
  const creation = child(root, 'creationTime');
  const disks: CheckpointDisk[] = childrenNamed(child(root, 'disks'), 'disk').map((d) => {
    const tracked = attr(d, 'checkpoint') !== 'no';
    const size = attr(d, 'size');
    return {
      target: attr(d, 'name'),
      tracked,
      bitmap: tracked ? attr(d, 'bitmap') : '',
      sizeBytes: size === '' ? undefined : unsigned(size, `checkpoint ${name}: size of disk ${attr(d, 'name')}`),
    };
  });
  return {
    name,
    description: textContent(child(root, 'description')),
    parent: textContent(child(child(root, 'parent'), 'name')).trim(),
    creationTime: creation ? unsigned(textContent(creation), `checkpoint ${name}: <creationTime>`) : 0,
    disks,
  };
}

/** `NAME  YYYY-MM-DD HH:MM:SS +ZZZZ  [PARENT]`, as virsh prints (in its local time zone). */
const CHECKPOINT_LINE = /^\s*(\S+)\s+(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})(?:\s+(\S+))?\s*$/;

/** Reads `virsh -q checkpoint-list --parent` (names cannot hold spaces, so the columns are unambiguous). */
export function parseCheckpointList(text: string): CheckpointSummary[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const m = CHECKPOINT_LINE.exec(line);
      if (!m) throw new Error(`unexpected line in virsh checkpoint-list output: ${JSON.stringify(line.slice(0, 200))}`);
      const [, name, day, time, hours, minutes, parent] = m as unknown as [string, string, string, string, string, string, string | undefined];
      return { name, parent: parent ?? '', creationTime: Date.parse(`${day}T${time}${hours}:${minutes}`) / 1000 };
    });
}

/** virDomainJobType, by number. */
const JOB_TYPES = ['none', 'bounded', 'unbounded', 'completed', 'failed', 'cancelled'];
/** virDomainJobOperation, by number (libvirt 9.0). */
const JOB_OPERATIONS = ['unknown', 'start', 'save', 'restore', 'migration-in', 'migration-out', 'snapshot', 'snapshot-revert', 'dump', 'backup', 'snapshot-delete'];

/** Reads `virsh domjobinfo --rawstats`: the job, or undefined for "Job type: 0" (none). */
export function parseDomainJobStats(text: string): DomainJobRecord | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([\w ]+?):\s*(.*?)\s*$/.exec(line);
    if (m) fields.set(m[1].toLowerCase(), m[2]);
  }
  const typeNumber = fields.get('job type');
  if (typeNumber === undefined || !/^\d+$/.test(typeNumber)) throw new Error(`unexpected virsh domjobinfo output: ${JSON.stringify(text.slice(0, 200))}`);
  const type = JOB_TYPES[Number(typeNumber)] ?? `type-${typeNumber}`;
  if (type === 'none') return undefined;
  const number = (key: string): number | undefined => {
    const v = fields.get(key);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  return {
    type,
    operation: JOB_OPERATIONS[number('operation') ?? 0] ?? 'unknown',
    elapsedMs: number('time_elapsed') ?? 0,
    tempUsedBytes: number('disk_temp_used'),
    tempTotalBytes: number('disk_temp_total'),
  };
}

/** Whether domain capabilities (`virsh domcapabilities`) say the backup API works. */
export function backupSupportedIn(domcapsXml: string): boolean {
  if (domcapsXml.trim() === '') return false;
  const root = rootNamed(domcapsXml, 'domainCapabilities', 'domain capabilities');
  return attr(child(child(root, 'features'), 'backup'), 'supported') === 'yes';
}
