/**
 * A minimal XML writer: elements with attributes and children, every text and attribute
 * value escaped (ids come from users and may contain `<`, `&` or quotes).
 */

/** An XML element. `undefined` attributes are left out. */
export interface XmlElement {
  name: string;
  attributes?: Record<string, string | undefined>;
  children?: readonly XmlElement[];
  text?: string;
}

/**
 * Escape text for an attribute value or element content.
 *
 * @example
 * escapeXml('a<b & "c"'); // 'a&lt;b &amp; &quot;c&quot;'
 */
export function escapeXml(value: string): string {
  return (
    value
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // Characters XML 1.0 cannot carry at all (control characters) are dropped.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point of this regex
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
  );
}

function render(element: XmlElement, indent: string): string {
  const attributes = Object.entries(element.attributes ?? {})
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join('');
  const children = element.children ?? [];
  if (children.length === 0 && element.text === undefined) return `${indent}<${element.name}${attributes}/>`;
  if (children.length === 0)
    return `${indent}<${element.name}${attributes}>${escapeXml(element.text ?? '')}</${element.name}>`;
  const inner = children.map((c) => render(c, `${indent}  `)).join('\n');
  return `${indent}<${element.name}${attributes}>\n${inner}\n${indent}</${element.name}>`;
}

/**
 * Serialise a document with Licensario's `<?xml version="1.0"?>` prolog.
 *
 * @example
 * toXmlDocument({ name: 'error', attributes: { code: 'x' } }); // '<?xml version="1.0"?>\n<error code="x"/>\n'
 */
export function toXmlDocument(root: XmlElement): string {
  return `<?xml version="1.0"?>\n${render(root, '')}\n`;
}
