/**
 * Which defined domain uses a file: before the agent deletes an image or an
 * NVRAM store (UndefineDomain with storage removal, RemoveImage), it asks
 * every other domain, so that one VM's cleanup never takes another VM's disk.
 */
import { realpath } from 'node:fs/promises';
import { KvmcloneError } from '../../shared/errors.js';
import { readDomainFacts } from './domain-xml.js';
import type { LibvirtPort } from './libvirt-port.js';

/**
 * Every disk image and NVRAM file the defined domains name, as written and
 * resolved, mapped to the first domain naming it; `exclude` (the domain being
 * removed) is left out. A domain that vanishes meanwhile is skipped.
 */
export async function filesInUse(libvirt: LibvirtPort, exclude: string | undefined, signal?: AbortSignal): Promise<Map<string, string>> {
  const used = new Map<string, string>();
  const add = async (path: string, domain: string): Promise<void> => {
    if (path === '') return;
    if (!used.has(path)) used.set(path, domain);
    const resolved = await realpath(path).catch(() => path);
    if (!used.has(resolved)) used.set(resolved, domain);
  };
  for (const other of await libvirt.listDomains({ ...(signal && { signal }) })) {
    if (other.name === exclude) continue;
    const xml = await libvirt.getDomainXml(other.name, { ...(signal && { signal }) }).catch((err: unknown) => {
      if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return undefined; // went away meanwhile
      throw err;
    });
    if (xml === undefined) continue;
    const facts = readDomainFacts(xml);
    for (const disk of facts.disks) await add(disk.source, other.name);
    await add(facts.nvramPath, other.name);
  }
  return used;
}

/** The domain using `path` (as written or as `resolved`), or undefined. */
export function userOf(used: ReadonlyMap<string, string>, path: string, resolved: string): string | undefined {
  return used.get(resolved) ?? used.get(path);
}
