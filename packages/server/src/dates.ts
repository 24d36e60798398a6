/**
 * Licensario's date format, `yyyymmddHHMMSS` in UTC (Licensario REST API, "Conventions"), over
 * the epoch milliseconds the store keeps. The format itself is core's (`formatWireDate` /
 * `parseWireDate`), so the client and the service cannot disagree on it.
 */
import { formatWireDate, parseWireDate } from '@tollgate/core';

/**
 * Format epoch milliseconds as `yyyymmddHHMMSS` (UTC).
 *
 * @example
 * formatLicensarioDate(Date.UTC(2012, 6, 30, 13, 48, 48)); // '20120730134848'
 */
export function formatLicensarioDate(epochMs: number): string {
  return formatWireDate(new Date(epochMs));
}

/**
 * Parse `yyyymmddHHMMSS` (UTC) into epoch milliseconds; `undefined` when malformed or not a
 * real calendar date.
 *
 * @example
 * parseLicensarioDate('20121110090807'); // Date.UTC(2012, 10, 10, 9, 8, 7)
 */
export function parseLicensarioDate(text: string): number | undefined {
  return parseWireDate(text)?.getTime();
}
