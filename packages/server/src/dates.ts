/**
 * Licensario's date format: `yyyymmddHHMMSS` in UTC (Licensario REST API, "Conventions").
 */

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/**
 * Format epoch milliseconds as `yyyymmddHHMMSS` (UTC).
 *
 * @example
 * formatLicensarioDate(Date.UTC(2012, 6, 30, 13, 48, 48)); // '20120730134848'
 */
export function formatLicensarioDate(epochMs: number): string {
  const d = new Date(epochMs);
  return (
    pad(d.getUTCFullYear(), 4) +
    pad(d.getUTCMonth() + 1) +
    pad(d.getUTCDate()) +
    pad(d.getUTCHours()) +
    pad(d.getUTCMinutes()) +
    pad(d.getUTCSeconds())
  );
}

/**
 * Parse `yyyymmddHHMMSS` (UTC) into epoch milliseconds; `undefined` when malformed or not a
 * real calendar date.
 *
 * @example
 * parseLicensarioDate('20121110090807'); // Date.UTC(2012, 10, 10, 9, 8, 7)
 */
export function parseLicensarioDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls 20120231 over into March; a round trip catches impossible dates.
  return formatLicensarioDate(ms) === text ? ms : undefined;
}
