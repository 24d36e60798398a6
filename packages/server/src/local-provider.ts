/**
 * `localProvider`: core's `EntitlementProvider` answered in-process from the store, for an
 * app that embeds the service instead of calling it over HTTP. Refusals surface as the same
 * core errors the HTTP client throws (`HttpError` with the wire `status`/`serviceCode`,
 * `AllocationExhaustedError` for a `floor` refusal), so the engine cannot tell the difference.
 */
import {
  type AdjustmentOutcome,
  type Allocation,
  AllocationExhaustedError,
  type EntitlementProvider,
  HttpError,
  InvalidAmountError,
  type License,
  type Plan,
  type Subject,
  UnavailableError,
} from '@tollgate/core';
import { parseAmount } from './decimal.js';
import { ServiceError } from './service-error.js';
import type { AllocationAmounts, Store, StoredLicense } from './store/store.js';

function toLicense(stored: StoredLicense): License {
  return {
    id: stored.id,
    userId: stored.userId,
    planId: stored.planId,
    issuedAt: new Date(stored.issuedAt),
    expiresAt: stored.expiresAt === null ? null : new Date(stored.expiresAt),
    trial: stored.trial,
    features: stored.features.map((f) =>
      f.total === null ? { id: f.id } : { id: f.id, total: Number(f.total), used: Number(f.used ?? '0') },
    ),
  };
}

function toAllocation(amounts: AllocationAmounts): Allocation {
  return { total: Number(amounts.total), used: Number(amounts.used), available: Number(amounts.available) };
}

const basePath = (subject: Subject) =>
  'userId' in subject
    ? `/api/v1/users/${encodeURIComponent(subject.userId)}`
    : `/api/v1/users/external/${encodeURIComponent(subject.externalUserId)}`;

/**
 * An in-process provider over a store (also available as `server.provider`).
 *
 * @example
 * const server = await createServer({ catalog, port: 0, credentials });
 * const tollgate = createTollgate({ provider: localProvider(server.store) });
 */
export function localProvider(store: Store): EntitlementProvider {
  /** Run one operation, translating refusals into core's errors. */
  async function call<T>(
    method: string,
    path: string,
    signal: AbortSignal | undefined,
    run: () => Promise<T>,
    featureId?: string,
  ): Promise<T> {
    if (signal?.aborted)
      throw new UnavailableError(`${method} ${path} was aborted by its signal.`, 'aborted');
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      if (error.code === 'exhausted' && featureId !== undefined) {
        throw new AllocationExhaustedError(
          error.message,
          { featureId, available: error.available === undefined ? undefined : Number(error.available) },
          { cause: error },
        );
      }
      throw new HttpError(
        `${method} ${path} failed: ${error.status} ${error.code}: ${error.message}`,
        { status: error.status, serviceCode: error.code, method, path },
        { cause: error },
      );
    }
  }

  /** Apply `run` once per idempotency key, replaying its stored result on a repeat. */
  async function idempotent<T>(
    key: string | undefined,
    fingerprint: string,
    run: (tx: Store) => Promise<T>,
  ): Promise<T> {
    if (key === undefined) return run(store);
    return store.transaction(async (tx) => {
      const claim = await tx.claimIdempotencyKey(key, `local:${fingerprint}`);
      if (claim.kind === 'replay') return JSON.parse(claim.response.body) as T;
      if (claim.kind === 'mismatch') {
        throw new ServiceError(
          422,
          'idempotency_mismatch',
          'This idempotency key was used with a different request; use a new key for a new request.',
        );
      }
      const result = await run(tx);
      await tx.completeIdempotencyKey(key, {
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify(result),
      });
      return result;
    });
  }

  function amountOf(value: number, featureId: string): string {
    const amount = Number.isFinite(value) ? parseAmount(value) : undefined;
    if (amount === undefined) {
      throw new InvalidAmountError(
        `Amount for "${featureId}" must be a finite number (got ${String(value)}).`,
        {
          amount: value,
          featureId,
        },
      );
    }
    return amount;
  }

  const provider: EntitlementProvider = {
    async getLicenses(subject, query = {}, options = {}) {
      const path = `${basePath(subject)}/licenses`;
      const licenses = await call('GET', path, options.signal, () =>
        store.listLicenses(subject, {
          featureIds: query.featureIds?.length ? query.featureIds : undefined,
          planIds: query.planIds?.length ? query.planIds : undefined,
        }),
      );
      return licenses.map(toLicense);
    },

    async createLicense(subject, planId, options = {}) {
      const path = `${basePath(subject)}/licenses`;
      const trial = options.trial === true;
      const stored = await call('POST', path, options.signal, () =>
        idempotent(options.idempotencyKey, JSON.stringify(['createLicense', subject, planId, trial]), (tx) =>
          tx.createLicense(subject, planId, { trial }),
        ),
      );
      return toLicense(stored);
    },

    async ensureLicense(subject, planId, options = {}) {
      const path = `${basePath(subject)}/licenses`;
      const trial = options.trial === true;
      const { license } = await call('PUT', path, options.signal, () =>
        idempotent(options.idempotencyKey, JSON.stringify(['ensureLicense', subject, planId, trial]), (tx) =>
          tx.ensureLicense(subject, planId, { trial }),
        ),
      );
      return toLicense(license);
    },

    async revokeLicense(licenseId, options = {}) {
      const path = `/api/v1/licenses/${encodeURIComponent(licenseId)}`;
      await call('DELETE', path, options.signal, () =>
        idempotent(
          options.idempotencyKey,
          JSON.stringify(['revokeLicense', licenseId, options.reason ?? null]),
          (tx) => tx.revokeLicense(licenseId, options.reason).then(() => true),
        ),
      );
    },

    async getAllocation(subject, featureId, options = {}) {
      const path = `${basePath(subject)}/licenses/features/${encodeURIComponent(featureId)}/alloc`;
      return toAllocation(
        await call('GET', path, options.signal, () =>
          store.getAllocation(subject, featureId, { planId: options.planId }),
        ),
      );
    },

    async setAllocation(subject, featureId, available, options = {}) {
      const path = `${basePath(subject)}/licenses/features/${encodeURIComponent(featureId)}/alloc`;
      const amount = amountOf(available, featureId);
      return toAllocation(
        await call('PUT', path, options.signal, () =>
          idempotent(
            options.idempotencyKey,
            JSON.stringify(['setAllocation', subject, featureId, amount, options.planId ?? null]),
            (tx) => tx.setAllocation(subject, featureId, amount, { planId: options.planId }),
          ),
        ),
      );
    },

    async adjustAllocation(subject, featureId, usage, options = {}) {
      const path = `${basePath(subject)}/licenses/features/${encodeURIComponent(featureId)}/alloc`;
      const amount = amountOf(usage, featureId);
      const floor = options.floor === 0;
      return toAllocation(
        await call(
          'POST',
          path,
          options.signal,
          () =>
            idempotent(
              options.idempotencyKey,
              JSON.stringify(['adjustAllocation', subject, featureId, amount, options.planId ?? null, floor]),
              (tx) => tx.adjustAllocation(subject, featureId, amount, { planId: options.planId, floor }),
            ),
          featureId,
        ),
      );
    },

    // Each adjustment exactly as `adjustAllocation` applies it (the same idempotency record, so
    // a key used in a batch and then alone is a replay), one after the other; a refusal is
    // that adjustment's outcome, not the call's.
    async adjustAllocations(adjustments, options = {}) {
      const outcomes: AdjustmentOutcome[] = [];
      for (const { subject, featureId, usage, planId, idempotencyKey } of adjustments) {
        // An abort stops the call as a whole: adjustments already applied replay when resent.
        if (options.signal?.aborted) {
          throw new UnavailableError(
            'adjustAllocations was aborted by its signal; send the adjustments again with the same keys.',
            'aborted',
          );
        }
        try {
          const allocation = await provider.adjustAllocation(subject, featureId, usage, {
            ...(planId === undefined ? {} : { planId }),
            idempotencyKey,
          });
          outcomes.push({ ok: true, allocation });
        } catch (error) {
          outcomes.push({ ok: false, error: error instanceof Error ? error : new Error(String(error)) });
        }
      }
      return outcomes;
    },

    async ensureExternalUser(externalUserId, email, options = {}) {
      const path = `/api/v1/users/external/${encodeURIComponent(externalUserId)}`;
      await call('PUT', path, options.signal, () =>
        idempotent(
          options.idempotencyKey,
          JSON.stringify(['ensureExternalUser', externalUserId, email]),
          (tx) => tx.ensureUser({ externalUserId }, email),
        ),
      );
    },

    async getPlans(query = {}, options = {}): Promise<Plan[]> {
      if (options.signal?.aborted)
        throw new UnavailableError('GET /api/v1/plans was aborted by its signal.', 'aborted');
      const { featureId } = query;
      return store.catalog.plans
        .filter((p) => featureId === undefined || Object.hasOwn(p.features, featureId))
        .map((p) => ({ ...p, features: { ...p.features } }));
    },
  };
  return provider;
}
