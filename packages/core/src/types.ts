/**
 * The vocabulary shared by every part of Tollgate (shared/DESIGN.md §1, §3).
 * Plain types only: the providers, the engine and the adapters all speak these.
 */

/**
 * Whose entitlements are checked. Either a user stored by the service (`userId`, Licensario's
 * `/api/v1/users/:user_id`) or a user of the host app known only by the app's own id
 * (`externalUserId`, Licensario's `/api/v1/users/external/:external_user_id`).
 *
 * @example
 * const subject: Subject = { externalUserId: req.user.id };
 */
export type Subject = { userId: string } | { externalUserId: string; email?: string };

/** One feature as a licence grants it. `total`/`used` are present only for metered features. */
export interface LicenseFeature {
  id: string;
  /** Allocation this licence grants (metered features only). */
  total?: number;
  /** Usage recorded against this licence (metered features only). */
  used?: number;
}

/** A subject holding a plan. Revoked licences are never returned by a provider. */
export interface License {
  id: string;
  /** The service's own id for the subject. */
  userId: string;
  planId: string;
  issuedAt: Date;
  /** `null` = does not expire. */
  expiresAt: Date | null;
  trial: boolean;
  /** Only the features this licence's plan grants. */
  features: LicenseFeature[];
}

/** A metered feature's allocation for a subject, summed over its active licences. */
export interface Allocation {
  total: number;
  used: number;
  available: number;
}

/** A plan in the service's catalog: `true` = boolean feature, a number = metered allocation. */
export interface Plan {
  id: string;
  name: string;
  /** Length of a trial licence of this plan, in days; absent = no trial offered. */
  trialDays?: number;
  /** Length of a (non-trial) licence, in days; absent = the licence does not expire. */
  durationDays?: number;
  features: Record<string, true | number>;
}

/** Every provider call can be cancelled. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Writes may carry an idempotency key: a retried write with the same key is applied once. */
export interface WriteOptions extends CallOptions {
  idempotencyKey?: string;
}

export interface LicenseQuery {
  /** A licence matches if it grants at least one of these features. */
  featureIds?: readonly string[];
  /** A licence matches if its plan is one of these. */
  planIds?: readonly string[];
}

export interface CreateLicenseOptions extends WriteOptions {
  /** Create a trial licence lasting the plan's `trialDays` (one trial per subject and plan). */
  trial?: boolean;
}

export interface AllocationOptions extends CallOptions {
  /** Restrict to licences of this plan. */
  planId?: string;
}

export interface AdjustAllocationOptions extends WriteOptions {
  planId?: string;
  /**
   * Apply the change only if `available` stays ≥ `floor`, atomically; otherwise the provider
   * throws an `AllocationExhaustedError` and nothing changes. Only `0` is supported.
   */
  floor?: 0;
}

/**
 * One usage adjustment of a batch ({@link EntitlementProvider.adjustAllocations}): the same
 * as `adjustAllocation(subject, featureId, usage, { planId, idempotencyKey })`.
 *
 * @example
 * const adjustment: AllocationAdjustment = { subject: { externalUserId: 'u1' }, featureId: 'sms', usage: 12, idempotencyKey: randomUUID() };
 */
export interface AllocationAdjustment {
  subject: Subject;
  featureId: string;
  /** Units consumed (a negative value refunds). */
  usage: number;
  planId?: string;
  /** Applied once per key, whether it arrives in a batch or on its own. */
  idempotencyKey: string;
}

/**
 * What became of one adjustment of a batch: the allocation after it, or the error the single
 * `adjustAllocation` would have thrown for it (nothing was applied then).
 */
export type AdjustmentOutcome = { ok: true; allocation: Allocation } | { ok: false; error: Error };

/**
 * The only door to an entitlement backend (shared/DESIGN.md §3). Implementations:
 * `licensarioProvider` (HTTP), `memoryProvider` (tests), the server's `localProvider`.
 * Methods throw `TollgateError` subclasses; they never resolve with a partial answer.
 */
export interface EntitlementProvider {
  /** Licences of the subject (expired ones included, revoked ones not). */
  getLicenses(subject: Subject, query?: LicenseQuery, options?: CallOptions): Promise<License[]>;
  createLicense(subject: Subject, planId: string, options?: CreateLicenseOptions): Promise<License>;
  /** The subject's active licence for the plan, created if there is none. */
  ensureLicense(subject: Subject, planId: string, options?: CreateLicenseOptions): Promise<License>;
  revokeLicense(licenseId: string, options?: WriteOptions & { reason?: string }): Promise<void>;
  getAllocation(subject: Subject, featureId: string, options?: AllocationOptions): Promise<Allocation>;
  /** Set the available amount. */
  setAllocation(
    subject: Subject,
    featureId: string,
    available: number,
    options?: AllocationOptions & WriteOptions,
  ): Promise<Allocation>;
  /**
   * Record usage: `usage` units are consumed (available goes down); a negative value refunds.
   * This is Licensario's POST alloc (`increment_feature_usage`).
   */
  adjustAllocation(
    subject: Subject,
    featureId: string,
    usage: number,
    options?: AdjustAllocationOptions,
  ): Promise<Allocation>;
  /**
   * Several usage adjustments in one round trip (the batched meter's flush). Each one is
   * applied on its own, exactly once per idempotency key, as `adjustAllocation` would apply
   * it; outcome `i` belongs to adjustment `i`. Throws only when the call as a whole failed
   * (then any of them may or may not have been applied: send them again with the same keys).
   * Optional: without it, or when it throws `TOLLGATE_UNSUPPORTED`, the meter sends one
   * `adjustAllocation` per adjustment.
   */
  adjustAllocations?(
    adjustments: readonly AllocationAdjustment[],
    options?: CallOptions,
  ): Promise<AdjustmentOutcome[]>;
  ensureExternalUser(externalUserId: string, email: string, options?: WriteOptions): Promise<void>;
  /** The catalog, optionally only plans granting a feature (for upsell pages). */
  getPlans?(query?: { featureId?: string }, options?: CallOptions): Promise<Plan[]>;
  /** Release sockets/handles. */
  close?(): Promise<void>;
}
