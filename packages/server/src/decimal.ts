/**
 * Exact decimal amounts. Allocations are decimals ("25", "0.2", "12.38": Licensario REST API,
 * "Update a Feature's Allocation"), stored as PostgreSQL NUMERIC and carried as strings so no
 * binary floating point ever touches a stored amount. The little arithmetic the service does
 * in JavaScript (spreading usage over several licences) runs on scaled BigInts.
 */

/** A decimal as an integer of units of 10^-scale. */
interface Scaled {
  units: bigint;
  scale: number;
}

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d*))?$|^([+-]?)\.(\d+)$/;

/**
 * Canonical decimal string for a request amount, or `undefined` when it is not a finite
 * decimal (`abc`, `NaN`, `Infinity`, `1e3`, empty). Numbers from JSON bodies are accepted
 * when finite.
 *
 * @example
 * parseAmount('12.380'); // '12.38'
 * parseAmount('Infinity'); // undefined
 */
export function parseAmount(value: unknown): string | undefined {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    // toString() switches to exponent notation past 1e21 / below 1e-6; fixed notation is exact.
    text =
      Math.abs(value) >= 1e21 || (value !== 0 && Math.abs(value) < 1e-6) ? value.toFixed(20) : String(value);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    return undefined;
  }
  const scaled = toScaled(text);
  return scaled === undefined ? undefined : fromScaled(scaled);
}

function toScaled(text: string): Scaled | undefined {
  const m = DECIMAL.exec(text);
  if (m === null) return undefined;
  const sign = (m[1] ?? m[4] ?? '') === '-' ? -1n : 1n;
  const whole = m[2] ?? '0';
  const fraction = (m[2] === undefined ? m[5] : m[3]) ?? '';
  return { units: sign * BigInt(whole + fraction), scale: fraction.length };
}

function parse(text: string): Scaled {
  const scaled = toScaled(text);
  if (scaled === undefined) throw new TypeError(`Not a decimal: ${JSON.stringify(text)}`);
  return scaled;
}

function align(a: Scaled, b: Scaled): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [a.units * 10n ** BigInt(scale - a.scale), b.units * 10n ** BigInt(scale - b.scale), scale];
}

function fromScaled({ units, scale }: Scaled): string {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  let fraction = scale === 0 ? '' : digits.slice(digits.length - scale);
  digits = digits.slice(0, digits.length - scale);
  fraction = fraction.replace(/0+$/, '');
  const body = fraction === '' ? digits : `${digits}.${fraction}`;
  return negative && body !== '0' ? `-${body}` : body;
}

/**
 * `a + b` on decimal strings.
 *
 * @example
 * addDecimal('0.1', '0.2'); // '0.3'
 */
export function addDecimal(a: string, b: string): string {
  const [x, y, scale] = align(parse(a), parse(b));
  return fromScaled({ units: x + y, scale });
}

/**
 * `a - b` on decimal strings.
 *
 * @example
 * subtractDecimal('1', '0.25'); // '0.75'
 */
export function subtractDecimal(a: string, b: string): string {
  const [x, y, scale] = align(parse(a), parse(b));
  return fromScaled({ units: x - y, scale });
}

/**
 * -1, 0 or 1 as `a` is less than, equal to or greater than `b`.
 *
 * @example
 * compareDecimal('2', '10'); // -1
 */
export function compareDecimal(a: string, b: string): -1 | 0 | 1 {
  const [x, y] = align(parse(a), parse(b));
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The smaller of two decimal strings.
 *
 * @example
 * minDecimal('3', '2.5'); // '2.5'
 */
export function minDecimal(a: string, b: string): string {
  return compareDecimal(a, b) <= 0 ? a : b;
}

/**
 * The wire form of an amount: at least one decimal, no trailing zeros beyond it
 * (`"1200.0"`, `"12.38"`), as Licensario's examples print them.
 *
 * @example
 * formatAmount('1200'); // '1200.0'
 * formatAmount('35.50'); // '35.5'
 */
export function formatAmount(value: string): string {
  const canonical = fromScaled(parse(value));
  return canonical.includes('.') ? canonical : `${canonical}.0`;
}
