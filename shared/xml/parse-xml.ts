/**
 * The strict XML parser of kvmclone, for domain, checkpoint, backup, pool and
 * capabilities XML on the agent and the definitions the controller rewrites.
 *
 * It is `sax` in strict mode with only XML's five named entities, so
 * attribute and text values decode exactly as libxml2 (libvirt's parser) decodes
 * them: `&#46;&#46;` is `..` to both. Malformed documents, unknown entities,
 * duplicate attributes and a second root are refused, as libxml2 refuses them.
 * A DOCTYPE is refused outright: a domain definition never needs one, and
 * entity definitions are the classic way to make two parsers disagree. (sax
 * also takes `&AMP;` for `&amp;`, which libxml2 refuses: such a document never
 * gets past libvirt, so the difference is harmless.)
 */
import sax from 'sax';
import { invalidArgument } from '../errors.js';
import { XmlElement, type XmlDocument, type XmlNode } from './xml-tree.js';

/** The document as it is built: the nodes outside the root element, and the root element once it has opened. */
interface DocumentParts {
  top: XmlNode[];
  root: XmlElement | undefined;
}

/** Builds the tree of elements, text, comments and instructions from the parser's events; a second root element is a `fail`. */
function buildTree(parser: sax.SAXParser, fail: (message: string) => void): DocumentParts {
  const doc: DocumentParts = { top: [], root: undefined };
  const stack: XmlElement[] = [];
  const add = (node: XmlNode): void => {
    const parent = stack.at(-1);
    if (parent) parent.insert(node);
    else doc.top.push(node);
  };
  parser.onopentag = (tag) => {
    const qualified = tag as sax.QualifiedTag;
    const attributes: Record<string, string> = {};
    for (const [name, a] of Object.entries(qualified.attributes)) attributes[name] = a.value;
    const element = new XmlElement(qualified.name, qualified.local, qualified.uri, attributes);
    if (stack.length === 0) {
      if (doc.root) fail('there is more than one root element');
      doc.root ??= element;
    }
    add(element);
    stack.push(element);
  };
  parser.onclosetag = () => {
    stack.pop();
  };
  // Outside the root sax allows whitespace only (anything else is an error in parseXmlDocument).
  parser.ontext = (t) => {
    const current = stack.at(-1);
    if (current) current.appendText(t);
    else doc.top.push({ kind: 'text', value: t, cdata: false });
  };
  parser.oncdata = (t) => stack.at(-1)?.appendText(t, true);
  parser.oncomment = (value) => add({ kind: 'comment', value });
  parser.onprocessinginstruction = (pi) => add({ kind: 'instruction', target: pi.name, body: pi.body });
  return doc;
}

/** Parses a whole XML document strictly, keeping every node; INVALID_ARGUMENT (with line and column) when it is not well formed. */
export function parseXmlDocument(text: string, what = 'XML'): XmlDocument {
  // strictEntities is a real sax option (only amp, lt, gt, quot, apos) that @types/sax does not list.
  const options: sax.SAXOptions & { strictEntities: boolean } = { xmlns: true, position: true, strictEntities: true };
  const parser = sax.parser(true, options);
  let failure: string | undefined;
  const fail = (message: string): void => {
    failure ??= `${message} (line ${parser.line + 1}, column ${parser.column + 1})`;
  };
  let seen = new Set<string>();
  parser.onerror = (err) => {
    fail(err.message.split('\n')[0] ?? 'malformed XML');
    throw err;
  };
  parser.ondoctype = () => fail('a DOCTYPE is not allowed');
  parser.onopentagstart = () => {
    seen = new Set();
  };
  parser.onattribute = (a) => {
    if (seen.has(a.name)) fail(`attribute ${a.name} appears twice`);
    seen.add(a.name);
  };
  const doc = buildTree(parser, fail);
  try {
    parser.write(text).close();
  } catch {
    // reported through onerror
  }
  if (failure !== undefined) throw invalidArgument(`${what} is not well-formed: ${failure}`);
  if (!doc.root) throw invalidArgument(`${what} has no root element`);
  return { content: doc.top, root: doc.root };
}

/** Parses a whole XML document strictly and returns its root element (see {@link parseXmlDocument}). */
export function parseXml(text: string, what = 'XML'): XmlElement {
  return parseXmlDocument(text, what).root;
}
