/**
 * DefineDomain's look at what a definition's disk images name: every file
 * disk's whole chain, as its headers say it, against the image roots and
 * against the `<backingStore>` chain the XML declares.
 *
 * The domain policy confines the paths written in the XML; but a qcow2
 * named there may itself name a backing file (`/dev/sda`, another VM's
 * disk) or an external data file, which QEMU then opens with the VM. And
 * where the XML declares a `<backingStore>` chain, libvirt hands QEMU that
 * chain rather than the header's: the two must agree, or the checked chain
 * is not the one that runs. So, before libvirt sees the definition:
 * PERMISSION_DENIED when a header leads outside the roots (or names a data
 * file or a protocol), FAILED_PRECONDITION when the header and the XML
 * disagree — each naming the disk and the offending path. A disk file that
 * does not exist yet has no header to check (nothing can run it either).
 */
import { realpath } from 'node:fs/promises';
import { errnoCode, failedPrecondition } from '../../shared/errors.js';
import { parseXml } from '../../shared/xml/parse-xml.js';
import { attr, child, childrenNamed, type XmlElement } from '../../shared/xml/xml-tree.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { checkImageChain, IMAGE_FORMATS, type ChainLink, type ImageFormat } from './image-header.js';

/** One link of a `<backingStore>` chain as a definition declares it. */
export interface DeclaredLink {
  /** `<format type>`, or ''. */
  format: string;
  /** `<source file>` (or `dev` for a block store), or ''. */
  source: string;
}

/**
 * The backing chain a `<disk>` declares, nearest first: undefined when it has
 * no `<backingStore>` (libvirt then reads the chain from the headers), and
 * ending at the first empty `<backingStore/>` (which declares "no backing").
 */
export function declaredChain(disk: XmlElement): DeclaredLink[] | undefined {
  let store = child(disk, 'backingStore');
  if (store === undefined) return undefined;
  const links: DeclaredLink[] = [];
  while (store !== undefined && (store.children.length > 0 || attr(store, 'type') !== '')) {
    const source = child(store, 'source');
    links.push({ format: attr(child(store, 'format'), 'type'), source: attr(source, 'file') || attr(source, 'dev') });
    store = child(store, 'backingStore');
  }
  return links;
}

async function resolvedOrEmpty(path: string): Promise<string> {
  return realpath(path).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return '';
    throw err;
  });
}

/** FAILED_PRECONDITION unless the declared chain is the one the headers walked (`links`, the image first). */
async function requireAgreement(field: string, links: readonly ChainLink[], declared: readonly DeclaredLink[]): Promise<void> {
  const backing = links.slice(1);
  const top = links[0];
  const count = Math.max(backing.length, declared.length);
  for (let i = 0; i < count; i += 1) {
    const named = links[i] ?? top;
    const said = declared[i];
    const found = backing[i];
    const headerSays = found === undefined ? 'no backing file' : `${JSON.stringify(named?.backingReference ?? '')} (${found.path}, ${found.format})`;
    if (said === undefined) {
      throw failedPrecondition(
        `${field}: the qcow2 header of ${named?.path ?? '?'} names ${headerSays} as its backing file, but the domain XML's <backingStore> ends before it; the definition is refused`,
      );
    }
    const resolved = said.source === '' ? '' : await resolvedOrEmpty(said.source);
    if (found === undefined || resolved !== found.path || (said.format !== '' && said.format !== found.format)) {
      throw failedPrecondition(
        `${field}: the domain XML declares ${JSON.stringify(said.source)} (${said.format || 'no format'}) as backing file ${i + 1} of ${top?.path ?? '?'}, but the qcow2 header of ${named?.path ?? '?'} names ${headerSays}; the definition is refused`,
      );
    }
  }
}

/**
 * Checks every file disk of the definition `xml` (already admitted by the
 * domain policy): its chain from the headers under `roots`, and the declared
 * `<backingStore>` chain against it.
 */
export async function checkDefinitionChains(xml: string, roots: ImageRoots, what = 'xml'): Promise<void> {
  const root = parseXml(xml, what);
  const disks = childrenNamed(root, 'devices').flatMap((d) => childrenNamed(d, 'disk'));
  for (const disk of disks) {
    if ((attr(disk, 'type') || 'file') !== 'file') continue;
    const source = attr(child(disk, 'source'), 'file');
    if (source === '') continue;
    const field = `${what}: disk ${attr(child(disk, 'target'), 'dev') || source}`;
    const resolved = await resolvedOrEmpty(source);
    if (resolved === '') continue;
    const format = attr(child(disk, 'driver'), 'type') || 'raw';
    if (!(IMAGE_FORMATS as readonly string[]).includes(format)) {
      throw failedPrecondition(`${field}: ${source} is opened as ${format}; kvmclone checks (and admits) qcow2 and raw images only`);
    }
    const confined = await roots.existing(source, field);
    const links = await checkImageChain(confined, format as ImageFormat, { roots, field });
    const declared = declaredChain(disk);
    if (declared !== undefined) await requireAgreement(field, links, declared);
  }
}
