/**
 * From a subject's licences to a decision about one feature (shared/DESIGN.md §1, §4).
 * Pure: the same licences at the same instant always give the same answer.
 */
import type { License } from '../types.js';
import { toUnits } from './amount.js';
import type { DecisionReason } from './types.js';

/** A decision as the service's data implies it, before cache/source bookkeeping. */
export interface Verdict {
  allowed: boolean;
  reason: Extract<DecisionReason, 'licensed' | 'not_licensed' | 'expired' | 'exhausted'>;
  featureId: string;
  planId?: string;
  licenseId?: string;
  expiresAt?: Date | null;
  /** Metered features: Σ(total − used) over active licences, in nano-units. */
  remainingUnits?: bigint;
  /** Earliest expiry among the active licences the verdict rests on (epoch ms); caps the TTL. */
  validUntil: number | undefined;
}

const expiry = (license: License) =>
  license.expiresAt === null ? Number.POSITIVE_INFINITY : license.expiresAt.getTime();

/**
 * Active = `expiresAt` null or in the future. No active licence → `expired` if one granting the
 * feature has expired, else `not_licensed`. Metered → allowed while Σ(total − used) > 0.
 *
 * @example
 * decide(await provider.getLicenses(s, { featureIds: ['sms'] }), 'sms', undefined, Date.now());
 */
export function decide(
  licenses: readonly License[],
  featureId: string,
  planId: string | undefined,
  now: number,
): Verdict {
  const relevant = licenses.filter(
    (license) =>
      (planId === undefined || license.planId === planId) && license.features.some((f) => f.id === featureId),
  );
  const active = relevant.filter((license) => expiry(license) > now);
  const asked = planId === undefined ? {} : { planId };
  if (active.length === 0) {
    return {
      allowed: false,
      reason: relevant.length > 0 ? 'expired' : 'not_licensed',
      featureId,
      ...asked,
      validUntil: undefined,
    };
  }
  // Usage draws from the licence expiring first (server README, "Several licences"), so that
  // is the one a metered decision names; a boolean decision names the longest-lasting one.
  active.sort((a, b) => expiry(a) - expiry(b) || a.issuedAt.getTime() - b.issuedAt.getTime());
  const first = active[0]!;
  const validUntil = Number.isFinite(expiry(first)) ? expiry(first) : undefined;
  let metered = false;
  let remaining = 0n;
  let drawFrom: License | undefined;
  for (const license of active) {
    const feature = license.features.find((f) => f.id === featureId);
    if (feature?.total === undefined) continue;
    metered = true;
    const left = toUnits(feature.total) - toUnits(feature.used ?? 0);
    remaining += left;
    if (drawFrom === undefined && left > 0n) drawFrom = license;
  }
  const granting = metered ? (drawFrom ?? active[active.length - 1]!) : active[active.length - 1]!;
  const base = {
    featureId,
    planId: planId ?? granting.planId,
    licenseId: granting.id,
    expiresAt: granting.expiresAt,
    validUntil,
  };
  if (!metered) return { allowed: true, reason: 'licensed', ...base };
  return remaining > 0n
    ? { allowed: true, reason: 'licensed', ...base, remainingUnits: remaining }
    : { allowed: false, reason: 'exhausted', ...base, remainingUnits: remaining };
}
