/**
 * The one XML tree of kvmclone (agent and controller alike): elements keep
 * every node in document order — text, CDATA, comments, processing
 * instructions — so a definition can be read (the agent's facts and path
 * checks), edited in place and written back (the controller's clone rewrite)
 * with everything it does not touch kept. Built by `parseXml` (parse-xml.ts),
 * written by `serializeXml` (serialize-xml.ts).
 */

/** Character data; `cdata` when it was written as a CDATA section (and is written back as one). */
export interface XmlText {
  readonly kind: 'text';
  readonly value: string;
  readonly cdata: boolean;
}

/** A comment (`<!--value-->`). */
export interface XmlComment {
  readonly kind: 'comment';
  readonly value: string;
}

/** A processing instruction, the XML declaration included (`<?xml version="1.0"?>`). */
export interface XmlInstruction {
  readonly kind: 'instruction';
  readonly target: string;
  readonly body: string;
}

/** Any node of the tree. */
export type XmlNode = XmlElement | XmlText | XmlComment | XmlInstruction;

/**
 * One element: local name, namespace URI ('' for none), attributes by
 * qualified name in document order, and its content. Content changes only
 * through the methods, so `children` and `text` can be kept ready for the
 * readers (the agent's path walk asks for them often).
 */
export class XmlElement {
  readonly kind = 'element';
  private readonly nodes: XmlNode[] = [];
  private childCache: XmlElement[] | undefined;
  private textCache: string | undefined;

  /**
   * @param qualifiedName the name as written, prefix included (`qemu:commandline`)
   * @param name the local name (`commandline`)
   * @param uri the namespace URI, '' for none
   */
  constructor(
    readonly qualifiedName: string,
    readonly name: string = qualifiedName,
    readonly uri: string = '',
    private readonly attributeValues: Record<string, string> = {},
  ) {}

  /** Attribute values by qualified name (`xmlns` declarations included), in document order. */
  get attributes(): Readonly<Record<string, string>> {
    return this.attributeValues;
  }

  /** Every node inside, in document order. */
  get content(): readonly XmlNode[] {
    return this.nodes;
  }

  /** The child elements, in order. */
  get children(): readonly XmlElement[] {
    this.childCache ??= this.nodes.filter((n): n is XmlElement => n.kind === 'element');
    return this.childCache;
  }

  /** Text directly inside this element (CDATA included), children's text excluded. */
  get text(): string {
    this.textCache ??= this.nodes.map((n) => (n.kind === 'text' ? n.value : '')).join('');
    return this.textCache;
  }

  /** Sets (or adds, last) an attribute. */
  setAttribute(name: string, value: string): void {
    this.attributeValues[name] = value;
  }

  /** Replaces the whole content by `value` as one text node (what `textContent =` does in a DOM). */
  setText(value: string): void {
    this.nodes.length = 0;
    if (value !== '') this.nodes.push({ kind: 'text', value, cdata: false });
    this.changed();
  }

  /** Adds text at the end, joined to the text before it (a parser hands text over in pieces). */
  appendText(value: string, cdata = false): void {
    const last = this.nodes.at(-1);
    if (!cdata && last?.kind === 'text' && !last.cdata) this.nodes[this.nodes.length - 1] = { kind: 'text', value: last.value + value, cdata: false };
    else this.nodes.push({ kind: 'text', value, cdata });
    this.changed();
  }

  /** Inserts `node` before `before` (a node of this element), or at the end when `before` is undefined. */
  insert(node: XmlNode, before?: XmlNode): void {
    const at = before === undefined ? this.nodes.length : this.nodes.indexOf(before);
    if (at < 0) throw new Error(`<${this.qualifiedName}> does not hold the node to insert before`);
    this.nodes.splice(at, 0, node);
    this.changed();
  }

  /** Removes `node` from this element; nothing when it is not here. */
  remove(node: XmlNode): void {
    const at = this.nodes.indexOf(node);
    if (at < 0) return;
    this.nodes.splice(at, 1);
    this.changed();
  }

  private changed(): void {
    this.childCache = undefined;
    this.textCache = undefined;
  }
}

/** A whole document: its top-level nodes in order (declaration, comments, whitespace) and its root among them. */
export interface XmlDocument {
  readonly content: readonly XmlNode[];
  readonly root: XmlElement;
}

/** The first child element named `name` (no namespace), as libvirt's `./name[1]`. */
export function child(element: XmlElement | undefined, name: string): XmlElement | undefined {
  return element?.children.find((c) => c.name === name && c.uri === '');
}

/** Every child element named `name` (no namespace). */
export function childrenNamed(element: XmlElement | undefined, name: string): XmlElement[] {
  return element ? element.children.filter((c) => c.name === name && c.uri === '') : [];
}

/** XPath string value: the element's text and all its descendants' text, in document order. */
export function textContent(element: XmlElement | undefined): string {
  if (!element) return '';
  return element.content.map((n) => (n.kind === 'text' ? n.value : n.kind === 'element' ? textContent(n) : '')).join('');
}

/** An attribute value, or '' when absent. */
export function attr(element: XmlElement | undefined, name: string): string {
  return element?.attributes[name] ?? '';
}
