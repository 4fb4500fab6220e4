/**
 * FakeLibvirt's checkpoints: how libvirt 9.0 makes one (its checks, its
 * parent), reads one back with its dirty sizes, and writes its XML — kept
 * apart from the port's calls in fake-libvirt.ts, which run these on a
 * domain's LiveState.
 */
import { escapeXml, parseCheckpointXml, validCheckpointName } from './backup-xml.js';
import { FakeLibvirtError, requireRunning, type LiveState, type StoredDomain } from './fake-libvirt-state.js';
import type { CheckpointRecord } from './libvirt-port.js';

/** A checkpoint a job (or checkpoint-create) would make: libvirt's checks, parent = the latest checkpoint. */
export function newCheckpoint(stored: StoredDomain, xml: string, formats: Map<string, string>): CheckpointRecord {
  const spec = parseCheckpointXml(xml);
  const live = stored.live;
  if (live.checkpoints.has(spec.name)) throw new FakeLibvirtError(`operation failed: domain moment ${spec.name} already exists`);
  // <disks> left out: every disk; listed: the others are not tracked
  const requested = spec.disks.length > 0 ? new Map(spec.disks.map((d) => [d.target, d.tracked])) : new Map([...formats.keys()].map((t) => [t, true]));
  for (const target of requested.keys()) if (!formats.has(target)) throw new FakeLibvirtError(`unsupported configuration: no disk named '${target}'`);
  const disks = [...formats].map(([target, format]) => {
    const tracked = requested.get(target) ?? false;
    if (tracked && format !== 'qcow2') throw new FakeLibvirtError(`unsupported configuration: checkpoint for disk ${target} unsupported for storage type ${format || 'raw'}`);
    return { target, tracked, bitmap: tracked ? spec.name : '', sizeBytes: undefined };
  });
  return { name: spec.name, description: spec.description, parent: [...live.checkpoints.keys()].at(-1) ?? '', creationTime: Math.floor(Date.now() / 1000), disks };
}

/** Adds `checkpoint` to libvirt's metadata, with a fresh (clean) bitmap in each disk it tracks. */
export function addCheckpoint(live: LiveState, checkpoint: CheckpointRecord): void {
  live.checkpoints.set(checkpoint.name, checkpoint);
  live.bitmaps.set(checkpoint.name, new Map(checkpoint.disks.filter((d) => d.tracked).map((d) => [d.target, 0])));
}

/** The checkpoint with its dirty sizes when asked (none for a lost bitmap, as libvirt). */
export function checkpointOf(stored: StoredDomain, name: string, size: boolean): CheckpointRecord {
  validCheckpointName(name);
  const checkpoint = stored.live.checkpoints.get(name);
  if (!checkpoint) throw new FakeLibvirtError(`Domain checkpoint not found: no domain checkpoint with matching name '${name}'`);
  if (size) requireRunning(stored);
  const bitmaps = stored.live.bitmaps;
  return {
    ...checkpoint,
    disks: checkpoint.disks.map((d) => ({ ...d, sizeBytes: size && d.tracked ? bitmaps.get(d.bitmap)?.get(d.target) : undefined })),
  };
}

/** The checkpoint's XML as virsh checkpoint-dumpxml writes it (sizes only when read with them). */
export function checkpointXmlText(c: CheckpointRecord): string {
  const disks = c.disks.map((d) =>
    d.tracked
      ? `    <disk name='${escapeXml(d.target)}' checkpoint='bitmap' bitmap='${escapeXml(d.bitmap)}'${d.sizeBytes === undefined ? '' : ` size='${d.sizeBytes}'`}/>`
      : `    <disk name='${escapeXml(d.target)}' checkpoint='no'/>`,
  );
  return [
    '<domaincheckpoint>',
    `  <name>${escapeXml(c.name)}</name>`,
    ...(c.description === '' ? [] : [`  <description>${escapeXml(c.description)}</description>`]),
    ...(c.parent === '' ? [] : ['  <parent>', `    <name>${escapeXml(c.parent)}</name>`, '  </parent>']),
    `  <creationTime>${c.creationTime}</creationTime>`,
    '  <disks>',
    ...disks,
    '  </disks>',
    '</domaincheckpoint>',
    '',
  ].join('\n');
}
