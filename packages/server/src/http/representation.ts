/**
 * How licences, allocations and errors look on the wire (README, "Representation").
 */
import { formatLicensarioDate } from '../dates.js';
import { formatAmount } from '../decimal.js';
import type { AllocationAmounts, StoredLicense } from '../store/store.js';
import { toXmlDocument, type XmlElement } from './xml.js';

/** A response ready to send (and to keep for an idempotent replay). */
export interface Reply {
  status: number;
  contentType: string;
  body: string;
}

export const JSON_TYPE = 'application/json; charset=utf-8';
export const XML_TYPE = 'application/xml; charset=utf-8';
export const TEXT_TYPE = 'text/plain; charset=utf-8';

/**
 * A JSON reply.
 *
 * @example
 * jsonReply(200, { ok: true });
 */
export function jsonReply(status: number, value: unknown): Reply {
  return { status, contentType: JSON_TYPE, body: JSON.stringify(value) };
}

function licenseElement(license: StoredLicense): XmlElement {
  return {
    name: 'licenseCertificate',
    attributes: {
      licenseId: license.id,
      userId: license.userId,
      paymentPlanId: license.planId,
      issueDateUTC: formatLicensarioDate(license.issuedAt),
      expirationDateUTC: license.expiresAt === null ? undefined : formatLicensarioDate(license.expiresAt),
      is_trial: String(license.trial),
    },
    children: [
      {
        name: 'features',
        children: license.features.map((f) => ({
          name: 'feature',
          attributes: {
            id: f.id,
            totalAmount: f.total === null ? undefined : formatAmount(f.total),
            amountUsed: f.total === null || f.used === null ? undefined : formatAmount(f.used),
          },
        })),
      },
    ],
  };
}

/**
 * The JSON form of a licence.
 *
 * @example
 * licenseJson(license).expirationDateUTC; // '20120831000000' or null
 */
export function licenseJson(license: StoredLicense) {
  return {
    licenseId: license.id,
    userId: license.userId,
    paymentPlanId: license.planId,
    issueDateUTC: formatLicensarioDate(license.issuedAt),
    expirationDateUTC: license.expiresAt === null ? null : formatLicensarioDate(license.expiresAt),
    isTrial: license.trial,
    features: license.features.map((f) =>
      f.total === null
        ? { id: f.id }
        : { id: f.id, totalAmount: formatAmount(f.total), amountUsed: formatAmount(f.used ?? '0') },
    ),
  };
}

/**
 * One licence in the negotiated format.
 *
 * @example
 * licenseReply(201, license, 'xml');
 */
export function licenseReply(status: number, license: StoredLicense, format: 'json' | 'xml'): Reply {
  return format === 'json'
    ? jsonReply(status, licenseJson(license))
    : { status, contentType: XML_TYPE, body: toXmlDocument(licenseElement(license)) };
}

/**
 * A list of licences in the negotiated format (`<userLicenses>` / `{ "licenses": [] }`).
 *
 * @example
 * licensesReply(licenses, 'json');
 */
export function licensesReply(licenses: readonly StoredLicense[], format: 'json' | 'xml'): Reply {
  return format === 'json'
    ? jsonReply(200, { licenses: licenses.map(licenseJson) })
    : {
        status: 200,
        contentType: XML_TYPE,
        body: toXmlDocument({ name: 'userLicenses', children: licenses.map(licenseElement) }),
      };
}

/**
 * The allocation document: `{"total":"1200.0","used":"35.0","available":1165}`.
 *
 * @example
 * allocationReply({ total: '1200', used: '35', available: '1165' });
 */
export function allocationReply(amounts: AllocationAmounts): Reply {
  return jsonReply(200, {
    total: formatAmount(amounts.total),
    used: formatAmount(amounts.used),
    available: Number(amounts.available),
  });
}

/**
 * An error document in the negotiated format.
 *
 * @example
 * errorReply(404, 'unknown_plan', 'Plan "gold" is not in the catalog.', 'json');
 */
export function errorReply(
  status: number,
  code: string,
  message: string,
  format: 'json' | 'xml',
  extra: Record<string, unknown> = {},
): Reply {
  if (format === 'json') return jsonReply(status, { code, message, ...extra });
  return {
    status,
    contentType: XML_TYPE,
    body: toXmlDocument({
      name: 'error',
      attributes: { code },
      children: [{ name: 'message', text: message }],
    }),
  };
}
