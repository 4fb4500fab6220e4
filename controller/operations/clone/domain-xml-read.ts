/**
 * What the controller reads from a described domain's XML beyond the fields
 * of DescribeDomain: the domain type (for the CPU check) and the interfaces'
 * MACs (a sync keeps the destination's). Read with the strict parser the
 * agent uses (shared/xml/parse-xml.ts), not with patterns over the text: a
 * pattern also matches inside comments and metadata, and misses other quoting
 * or attribute orders.
 */
import { parseXml } from '../../../shared/xml/parse-xml.js';
import { attr, child, childrenNamed } from '../../../shared/xml/xml-tree.js';

/** `<domain type>`: `kvm`, `qemu` (TCG), ...; `kvm` when the attribute is missing. */
export function domainType(xml: string): string {
  return attr(parseXml(xml, 'domain XML'), 'type') || 'kvm';
}

/** The MAC of each `<interface>` that has one, in document order (rewriteDomainXml's order). */
export function interfaceMacs(xml: string): string[] {
  const interfaces = childrenNamed(child(parseXml(xml, 'domain XML'), 'devices'), 'interface');
  return interfaces.map((i) => attr(child(i, 'mac'), 'address')).filter((mac) => mac !== '');
}
