/**
 * The shared XML tree written back (shared/xml/serialize-xml.ts): what the
 * strict parser read comes out so that it reads back the same — declaration,
 * comments, processing instructions, CDATA, namespaces, layout — and edits
 * through the element's methods show in `children`, `text` and the output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseXml, parseXmlDocument } from '../../shared/xml/parse-xml.js';
import { serializeXml } from '../../shared/xml/serialize-xml.js';
import { textContent, XmlElement, type XmlNode } from '../../shared/xml/xml-tree.js';

const DOC = `<?xml version="1.0" encoding="UTF-8"?>
<!-- made by virt-install -->
<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>web&#46;1</name>
  <description>a &amp; b &lt;c&gt; "q" it's</description>
  <metadata><![CDATA[raw <stuff> & ]]>tail<?app keep?></metadata>
  <devices>
    <disk type='file'><source file='/images/a b&amp;c&quot;.qcow2'/><target dev='vda'/></disk>
    <empty></empty>
  </devices>
  <qemu:commandline><qemu:arg value='-x'/></qemu:commandline>
</domain>
<!-- after -->
`;

/** A plain picture of a node, to compare two trees. */
function shape(node: XmlNode): unknown {
  if (node.kind !== 'element') return node;
  return { name: node.qualifiedName, uri: node.uri, attributes: { ...node.attributes }, content: node.content.map(shape) };
}

test('a parsed document is written back so that it parses to the same tree, everything kept', () => {
  const doc = parseXmlDocument(DOC);
  const out = serializeXml(doc);
  const again = parseXmlDocument(out);
  assert.deepEqual(again.content.map(shape), doc.content.map(shape));
  assert.equal(
    out,
    `<?xml version="1.0" encoding="UTF-8"?>
<!-- made by virt-install -->
<domain type="kvm" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">
  <name>web.1</name>
  <description>a &amp; b &lt;c&gt; "q" it's</description>
  <metadata><![CDATA[raw <stuff> & ]]>tail<?app keep?></metadata>
  <devices>
    <disk type="file"><source file="/images/a b&amp;c&quot;.qcow2"/><target dev="vda"/></disk>
    <empty/>
  </devices>
  <qemu:commandline><qemu:arg value="-x"/></qemu:commandline>
</domain>
<!-- after -->
`,
  );
  assert.equal(doc.root.children.at(-1)?.uri, 'http://libvirt.org/schemas/domain/qemu/1.0');
  assert.equal(doc.root.children[2]?.text, 'raw <stuff> & tail', 'CDATA is text to the readers');
});

test('attribute values that a parser would normalise are written as character references', () => {
  const root = parseXml('<a/>');
  root.setAttribute('v', 'tab\tnl\ncr\r<&>"\'');
  root.setText(']]> & <x>');
  const out = serializeXml(root);
  assert.equal(out, '<a v="tab&#9;nl&#10;cr&#13;&lt;&amp;&gt;&quot;\'">]]&gt; &amp; &lt;x&gt;</a>');
  assert.deepEqual(parseXml(out).attributes, { v: 'tab\tnl\ncr\r<&>"\'' });
  assert.equal(parseXml(out).text, ']]> & <x>');
});

test('a CDATA section holding "]]>" is split, and reads back whole', () => {
  const root = new XmlElement('a');
  root.appendText('x]]>y', true);
  assert.equal(serializeXml(root), '<a><![CDATA[x]]]]><![CDATA[>y]]></a>');
  assert.equal(parseXml(serializeXml(root)).text, 'x]]>y');
});

test('edits through the methods show in children, text and the output', () => {
  const root = parseXml('<d>one<n>x</n>two</d>');
  assert.equal(root.text, 'onetwo');
  assert.equal(textContent(root), 'onextwo', 'the XPath string value is in document order');
  const added = new XmlElement('u');
  added.setText('id');
  root.insert(added, root.children[0]);
  assert.deepEqual(
    root.children.map((c) => c.name),
    ['u', 'n'],
  );
  root.remove(root.children[1]);
  root.appendText('three');
  assert.equal(root.text, 'onetwothree');
  assert.equal(serializeXml(root), '<d>one<u>id</u>twothree</d>');
  root.setText('');
  assert.equal(serializeXml(root), '<d/>');
  assert.throws(() => root.insert(new XmlElement('v'), added), /<d> does not hold the node/);
});
