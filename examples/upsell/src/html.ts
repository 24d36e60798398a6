/**
 * HTML output with escaping by construction: every value interpolated into an `html`
 * template is escaped unless it is itself `SafeHtml` (the result of another `html` template).
 * The upsell pages show user ids, plan names and URLs from the query string; none of them may
 * reach the page unescaped.
 */

/**
 * Markup that is already safe to send: only `html` templates create it, so nesting one
 * template in another does not escape it twice.
 *
 * @example
 * const row = html`<li>${name}</li>`; // SafeHtml
 * html`<ul>${[row]}</ul>`.toString();
 */
export class SafeHtml {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The markup. */
  toString(): string {
    return this.#value;
  }
}

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Escapes text for an HTML text node or a quoted attribute value.
 *
 * @example
 * escapeHtml('<b>"hi"</b>'); // '&lt;b&gt;&quot;hi&quot;&lt;/b&gt;'
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

/**
 * Tagged template that escapes every interpolated value (arrays are joined; `undefined`,
 * `null` and `false` render as nothing, so `${cond && html`…`}` works).
 *
 * @example
 * const name = '<script>';
 * html`<p>Hello ${name}</p>`.toString(); // '<p>Hello &lt;script&gt;</p>'
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}
