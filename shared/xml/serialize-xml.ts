/**
 * Writes a tree of xml-tree.ts back as XML text: what the controller sends
 * as a clone's definition after editing the source's. Attributes are written
 * in double quotes, empty elements as `<x/>`, and values escaped so that a
 * strict parser (ours, libxml2) reads back exactly the values in the tree —
 * tabs, newlines and carriage returns in attributes as character references,
 * which a parser would otherwise turn into spaces.
 */
import type { XmlDocument, XmlElement, XmlNode } from './xml-tree.js';

const TEXT_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };

function escapeText(value: string): string {
  return value.replace(/[&<>]/g, (c) => TEXT_ESCAPES[c] ?? c);
}

function escapeAttribute(value: string): string {
  return value.replace(/[&<>"\t\n\r]/g, (c) => TEXT_ESCAPES[c] ?? c);
}

function writeNode(node: XmlNode, out: string[]): void {
  switch (node.kind) {
    case 'element':
      writeElement(node, out);
      return;
    case 'text':
      // A CDATA section cannot hold "]]>": split it across two sections.
      out.push(node.cdata ? `<![CDATA[${node.value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>` : escapeText(node.value));
      return;
    case 'comment':
      out.push(`<!--${node.value}-->`);
      return;
    case 'instruction':
      out.push(`<?${node.target}${node.body === '' ? '' : ` ${node.body}`}?>`);
      return;
  }
}

function writeElement(element: XmlElement, out: string[]): void {
  const attributes = Object.entries(element.attributes).map(([name, value]) => ` ${name}="${escapeAttribute(value)}"`);
  if (element.content.length === 0) {
    out.push(`<${element.qualifiedName}${attributes.join('')}/>`);
    return;
  }
  out.push(`<${element.qualifiedName}${attributes.join('')}>`);
  for (const node of element.content) writeNode(node, out);
  out.push(`</${element.qualifiedName}>`);
}

/** The XML text of a whole document (its declaration, comments and layout kept) or of one element. */
export function serializeXml(tree: XmlDocument | XmlElement): string {
  const out: string[] = [];
  if ('root' in tree) for (const node of tree.content) writeNode(node, out);
  else writeElement(tree, out);
  return out.join('');
}
