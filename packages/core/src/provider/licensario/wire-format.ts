/**
 * Licensario's scalar encodings (packages/server/README.md, "Representation"): dates are
 * `yyyymmddHHMMSS` in UTC and amounts are decimal strings such as `"1200.0"` or `"12.38"`.
 * The date functions are exported: @tollgate/server writes and reads its dates with them.
 */

const WIRE_DATE = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/;
// As the service reads them (packages/server/src/decimal.ts): `+1`, `12.` and `.5` included.
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/**
 * Parses a Licensario `yyyymmddHHMMSS` UTC date; `undefined` when the text is not one
 * (including impossible dates such as month 13, which `Date.UTC` would silently roll over).
 *
 * @example
 * parseWireDate('20120730134848'); // 2012-07-30T13:48:48.000Z
 */
export function parseWireDate(text: string): Date | undefined {
  const match = WIRE_DATE.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Round-trip check: Date.UTC accepts 2012-02-31 and answers 2012-03-02.
  return formatWireDate(date) === text ? date : undefined;
}

/**
 * Formats a date as Licensario's `yyyymmddHHMMSS` in UTC (milliseconds are dropped).
 *
 * @example
 * formatWireDate(new Date('2012-07-30T13:48:48Z')); // '20120730134848'
 */
export function formatWireDate(date: Date): string {
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  return (
    pad(date.getUTCFullYear(), 4) +
    pad(date.getUTCMonth() + 1) +
    pad(date.getUTCDate()) +
    pad(date.getUTCHours()) +
    pad(date.getUTCMinutes()) +
    pad(date.getUTCSeconds())
  );
}

/**
 * Parses a wire decimal (`"1200.0"`, `"-0.5"`) into a number; `undefined` for anything that
 * is not a plain decimal (no exponents, no `NaN`, no empty string).
 *
 * @example
 * parseWireDecimal('12.38'); // 12.38
 */
export function parseWireDecimal(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}
