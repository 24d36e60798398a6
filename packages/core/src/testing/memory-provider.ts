/**
 * `memoryProvider(fixture)`: an in-memory `EntitlementProvider` with the service's semantics
 * (packages/server/README.md), so an app's own tests run without a service: POST alloc is a
 * usage increment, `floor: 0` is atomic, several licences are drawn from expiring-first,
 * idempotency keys are honoured, expiry follows an injectable clock.
 */
import { z } from 'zod';
import { fromUnits, toUnits } from '../engine/amount.js';
import type { Clock } from '../engine/types.js';
import {
  AllocationExhaustedError,
  ConfigurationError,
  HttpError,
  InvalidAmountError,
  UnavailableError,
} from '../errors.js';
import type {
  AdjustAllocationOptions,
  Allocation,
  AllocationOptions,
  CallOptions,
  CreateLicenseOptions,
  EntitlementProvider,
  License,
  LicenseQuery,
  Plan,
  Subject,
  WriteOptions,
} from '../types.js';

/**
 * A licence in a fixture.
 *
 * @example
 * const license: MemoryLicenseFixture = { subject: { userId: '7' }, planId: 'pro', used: { sms: 10 } };
 */
export interface MemoryLicenseFixture {
  subject: Subject;
  planId: string;
  /** @default the clock's now */
  issuedAt?: Date;
  /** `null` = never; absent = from the plan's `durationDays` (or `trialDays` for a trial). */
  expiresAt?: Date | null;
  trial?: boolean;
  /** Usage already recorded, per metered feature. */
  used?: Record<string, number>;
}

/**
 * What the in-memory service starts with.
 *
 * @example
 * const fixture: MemoryFixture = { plans: [{ id: 'pro', name: 'Pro', features: { sms: 100 } }], licenses: [] };
 */
export interface MemoryFixture {
  /** The catalog: same shape as the server's catalog file. */
  plans: Plan[];
  licenses?: MemoryLicenseFixture[];
  /** Time source for expiry, issue dates and trials. @default Date.now */
  clock?: Clock;
}

/**
 * Method name → number of calls, for asserting how often the engine reached the "service".
 *
 * @example
 * expect(provider.calls.getLicenses).toBe(1);
 */
export type MemoryProviderCalls = Record<
  | 'getLicenses'
  | 'createLicense'
  | 'ensureLicense'
  | 'revokeLicense'
  | 'getAllocation'
  | 'setAllocation'
  | 'adjustAllocation'
  | 'ensureExternalUser'
  | 'getPlans',
  number
>;

/**
 * The provider plus handles for tests.
 *
 * @example
 * provider.fail(new UnavailableError('down', 'refused')); // outage starts
 * provider.fail(undefined); // and ends
 */
export interface MemoryProvider extends EntitlementProvider {
  getPlans(query?: { featureId?: string }, options?: CallOptions): Promise<Plan[]>;
  /** Calls received so far, by method (failed ones included). */
  readonly calls: MemoryProviderCalls;
  /**
   * Make every following call fail with this error (e.g. `new UnavailableError('down', 'refused')`)
   * until `fail(undefined)`: an outage drill without a network.
   */
  fail(error: Error | undefined): void;
  /** Wait this many ms (on real timers or fake ones) before answering each call. @default 0 */
  delay(ms: number): void;
}

interface StoredLicense {
  id: string;
  userId: string;
  subjectKey: string;
  planId: string;
  issuedAt: Date;
  expiresAt: Date | null;
  trial: boolean;
  revoked: boolean;
  /** feature → used, in nano-units. */
  used: Map<string, bigint>;
}

const subjectSchema = z.union([
  z.strictObject({ userId: z.string().min(1) }),
  z.strictObject({ externalUserId: z.string().min(1), email: z.string().optional() }),
]);
const fixtureSchema = z.strictObject({
  plans: z.array(
    z.strictObject({
      id: z.string().min(1),
      name: z.string(),
      trialDays: z.number().positive().optional(),
      durationDays: z.number().positive().optional(),
      features: z.record(z.string().min(1), z.union([z.literal(true), z.number().finite().nonnegative()])),
    }),
  ),
  licenses: z
    .array(
      z.strictObject({
        subject: subjectSchema,
        planId: z.string().min(1),
        issuedAt: z.date().optional(),
        expiresAt: z.date().nullable().optional(),
        trial: z.boolean().optional(),
        used: z.record(z.string(), z.number().finite()).optional(),
      }),
    )
    .optional(),
  clock: z.custom<Clock>((v) => typeof (v as Clock | undefined)?.now === 'function').optional(),
});

/** Checks the fixture once, so a typo fails with a message rather than as a wrong answer later. */
function validateFixture(fixture: MemoryFixture): void {
  const parsed = fixtureSchema.safeParse(fixture);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.') || 'fixture'}: ${issue.message}`);
  const planIds = new Set(fixture.plans?.map((plan) => plan.id));
  fixture.licenses?.forEach((license, i) => {
    if (!planIds.has(license.planId)) {
      problems.push(
        `licenses.${i}.planId: "${license.planId}" is not one of the plans (${[...planIds].join(', ')})`,
      );
    }
  });
  if (problems.length > 0) {
    throw new ConfigurationError(`memoryProvider: invalid fixture.\n- ${problems.join('\n- ')}`, {
      issues: parsed.success ? [] : parsed.error.issues,
    });
  }
}

const keyOf = (subject: Subject): string =>
  'userId' in subject ? `u:${subject.userId}` : `e:${subject.externalUserId}`;
const DAY = 86_400_000;

/**
 * Creates an in-memory provider from plans and licences.
 *
 * @example
 * import { createTollgate, memoryProvider } from '@tollgate/core';
 *
 * const provider = memoryProvider({
 *   plans: [{ id: 'pro', name: 'Pro', features: { reports: true, sms: 100 } }],
 *   licenses: [{ subject: { externalUserId: 'u1' }, planId: 'pro', used: { sms: 99 } }],
 * });
 * const tollgate = createTollgate({ provider, meter: { mode: 'sync' } });
 * await tollgate.authrep({ externalUserId: 'u1' }, { sms: 1 }); // allowed, remaining 0
 * await tollgate.authrep({ externalUserId: 'u1' }, { sms: 1 }); // denied: 'exhausted'
 */
export function memoryProvider(fixture: MemoryFixture): MemoryProvider {
  validateFixture(fixture);
  const clock = fixture.clock ?? { now: () => Date.now() };
  const plans = new Map(fixture.plans.map((plan) => [plan.id, plan]));
  // Indexed by subject and by id: users' fixtures (and the benchmark) hold many subjects.
  const licensesBySubject = new Map<string, StoredLicense[]>();
  const licensesById = new Map<string, StoredLicense>();
  const licensesOf = (key: string): readonly StoredLicense[] => licensesBySubject.get(key) ?? [];
  const users = new Map<string, string>();
  const emails = new Map<string, string>();
  const trialsUsed = new Set<string>();
  const idempotency = new Map<string, { fingerprint: string; result: unknown }>();
  const calls: MemoryProviderCalls = {
    getLicenses: 0,
    createLicense: 0,
    ensureLicense: 0,
    revokeLicense: 0,
    getAllocation: 0,
    setAllocation: 0,
    adjustAllocation: 0,
    ensureExternalUser: 0,
    getPlans: 0,
  };
  let failure: Error | undefined;
  let delayMs = 0;
  let nextId = 1;

  const userIdOf = (subject: Subject): string => {
    const key = keyOf(subject);
    let id = users.get(key);
    if (!id) {
      id = 'userId' in subject ? subject.userId : String(1000 + users.size);
      users.set(key, id);
    }
    return id;
  };

  const planOf = (planId: string, method: string, path: string): Plan => {
    const plan = plans.get(planId);
    if (!plan) {
      throw new HttpError(`Unknown plan "${planId}": use one of ${[...plans.keys()].join(', ')}.`, {
        status: 404,
        serviceCode: 'unknown_plan',
        method,
        path,
      });
    }
    return plan;
  };

  const isActive = (license: StoredLicense, now: number) =>
    !license.revoked && (license.expiresAt === null || license.expiresAt.getTime() > now);

  const addLicense = (
    subject: Subject,
    planId: string,
    opts: Omit<MemoryLicenseFixture, 'subject' | 'planId'>,
  ) => {
    const plan = planOf(planId, 'POST', 'licenses');
    const issuedAt = opts.issuedAt ?? new Date(clock.now());
    const days = opts.trial ? plan.trialDays : plan.durationDays;
    const expiresAt =
      opts.expiresAt !== undefined
        ? opts.expiresAt
        : days === undefined
          ? null
          : new Date(issuedAt.getTime() + days * DAY);
    const used = new Map<string, bigint>();
    for (const [featureId, grant] of Object.entries(plan.features)) {
      if (typeof grant === 'number') used.set(featureId, toUnits(opts.used?.[featureId] ?? 0));
    }
    const stored: StoredLicense = {
      id: String(nextId++),
      userId: userIdOf(subject),
      subjectKey: keyOf(subject),
      planId,
      issuedAt,
      expiresAt,
      trial: opts.trial ?? false,
      revoked: false,
      used,
    };
    const own = licensesBySubject.get(stored.subjectKey);
    if (own) own.push(stored);
    else licensesBySubject.set(stored.subjectKey, [stored]);
    licensesById.set(stored.id, stored);
    return stored;
  };

  const toLicense = (stored: StoredLicense): License => {
    const plan = plans.get(stored.planId)!;
    return {
      id: stored.id,
      userId: stored.userId,
      planId: stored.planId,
      issuedAt: new Date(stored.issuedAt),
      expiresAt: stored.expiresAt === null ? null : new Date(stored.expiresAt),
      trial: stored.trial,
      features: Object.entries(plan.features).map(([id, grant]) =>
        grant === true ? { id } : { id, total: grant, used: fromUnits(stored.used.get(id) ?? 0n) },
      ),
    };
  };

  /** Active licences granting a metered feature, in draw order: expiring first, ties by issue. */
  const drawOrder = (subject: Subject, featureId: string, planId: string | undefined) => {
    const now = clock.now();
    const exp = (l: StoredLicense) =>
      l.expiresAt === null ? Number.POSITIVE_INFINITY : l.expiresAt.getTime();
    return licensesOf(keyOf(subject))
      .filter(
        (l) =>
          isActive(l, now) &&
          (planId === undefined || l.planId === planId) &&
          typeof plans.get(l.planId)?.features[featureId] === 'number',
      )
      .sort((a, b) => exp(a) - exp(b) || a.issuedAt.getTime() - b.issuedAt.getTime());
  };

  const totalOf = (l: StoredLicense, featureId: string) =>
    toUnits(plans.get(l.planId)!.features[featureId] as number);

  const allocationOf = (granting: StoredLicense[], featureId: string): Allocation => {
    let total = 0n;
    let used = 0n;
    for (const l of granting) {
      total += totalOf(l, featureId);
      used += l.used.get(featureId) ?? 0n;
    }
    return { total: fromUnits(total), used: fromUnits(used), available: fromUnits(total - used) };
  };

  /** The server's draw rule (README "Several licences granting one feature"). */
  const apply = (granting: StoredLicense[], featureId: string, delta: bigint) => {
    if (delta >= 0n) {
      let left = delta;
      for (const l of granting) {
        if (left === 0n) break;
        const room = totalOf(l, featureId) - (l.used.get(featureId) ?? 0n);
        const take = room > 0n ? (room < left ? room : left) : 0n;
        l.used.set(featureId, (l.used.get(featureId) ?? 0n) + take);
        left -= take;
      }
      if (left > 0n) {
        const last = granting[granting.length - 1]!;
        last.used.set(featureId, (last.used.get(featureId) ?? 0n) + left);
      }
      return;
    }
    let left = -delta;
    for (let i = granting.length - 1; i >= 0 && left > 0n; i -= 1) {
      const l = granting[i]!;
      const used = l.used.get(featureId) ?? 0n;
      const give = i === 0 ? left : used < left ? (used > 0n ? used : 0n) : left;
      l.used.set(featureId, used - give);
      left -= give;
    }
  };

  /** Runs a call with the drill hooks: delay, failure, abort, counting. */
  const call = async <T>(
    method: keyof MemoryProviderCalls,
    options: CallOptions | undefined,
    run: () => T,
  ): Promise<T> => {
    calls[method] += 1;
    if (delayMs > 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, delayMs);
        options?.signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(new UnavailableError('The call was aborted.', 'aborted', { cause: options.signal?.reason }));
        });
      });
    }
    if (options?.signal?.aborted) {
      throw new UnavailableError('The call was aborted.', 'aborted', { cause: options.signal.reason });
    }
    if (failure) throw failure;
    return run();
  };

  /** Idempotency-Key: same key and request → the stored result; same key, other request → 422. */
  const once = <T>(options: WriteOptions | undefined, fingerprint: string, run: () => T): T => {
    const key = options?.idempotencyKey;
    if (key === undefined) return run();
    const seen = idempotency.get(key);
    if (seen) {
      if (seen.fingerprint !== fingerprint) {
        throw new HttpError('Idempotency-Key reused with a different request.', {
          status: 422,
          serviceCode: 'idempotency_mismatch',
          method: 'POST',
          path: 'idempotency',
        });
      }
      if (seen.result instanceof Error) throw seen.result;
      return structuredClone(seen.result) as T;
    }
    try {
      const result = run();
      idempotency.set(key, { fingerprint, result: structuredClone(result) });
      return result;
    } catch (error) {
      idempotency.set(key, { fingerprint, result: error });
      throw error;
    }
  };

  const noLicense = (featureId: string, method: string) =>
    new HttpError(`No active licence grants "${featureId}" to this subject.`, {
      status: 404,
      serviceCode: 'no_license',
      method,
      path: `features/${featureId}/alloc`,
    });

  const adjust = (
    subject: Subject,
    featureId: string,
    delta: bigint,
    planId: string | undefined,
    floor: 0 | undefined,
  ) => {
    const granting = drawOrder(subject, featureId, planId);
    if (granting.length === 0) throw noLicense(featureId, 'POST');
    const before = allocationOf(granting, featureId);
    if (floor === 0 && toUnits(before.available) - delta < 0n) {
      throw new AllocationExhaustedError(`Not enough "${featureId}" left: nothing was charged.`, {
        featureId,
        available: before.available,
      });
    }
    apply(granting, featureId, delta);
    return allocationOf(granting, featureId);
  };

  for (const license of fixture.licenses ?? []) {
    const { subject, planId, ...rest } = license;
    addLicense(subject, planId, rest);
  }

  return {
    calls,
    fail(error) {
      failure = error;
    },
    delay(ms) {
      delayMs = ms;
    },
    getLicenses(subject: Subject, query?: LicenseQuery, options?: CallOptions) {
      return call('getLicenses', options, () => {
        userIdOf(subject);
        return licensesOf(keyOf(subject))
          .filter(
            (l) =>
              !l.revoked &&
              (query?.planIds === undefined || query.planIds.includes(l.planId)) &&
              (query?.featureIds === undefined ||
                query.featureIds.some((f) => plans.get(l.planId)?.features[f] !== undefined)),
          )
          .map(toLicense);
      });
    },
    createLicense(subject: Subject, planId: string, options?: CreateLicenseOptions) {
      return call('createLicense', options, () =>
        once(options, `create:${keyOf(subject)}:${planId}:${options?.trial === true}`, () => {
          const plan = planOf(planId, 'POST', 'licenses');
          if (options?.trial) {
            const conflict = (code: string, message: string) =>
              new HttpError(message, { status: 409, serviceCode: code, method: 'POST', path: 'licenses' });
            if (plan.trialDays === undefined) throw conflict('no_trial', `Plan "${planId}" offers no trial.`);
            const trialKey = `${keyOf(subject)}:${planId}`;
            if (trialsUsed.has(trialKey))
              throw conflict('trial_used', `This subject already had a trial of "${planId}".`);
            trialsUsed.add(trialKey);
          }
          return toLicense(addLicense(subject, planId, { trial: options?.trial ?? false }));
        }),
      );
    },
    ensureLicense(subject: Subject, planId: string, options?: CreateLicenseOptions) {
      return call('ensureLicense', options, () =>
        once(options, `ensure:${keyOf(subject)}:${planId}`, () => {
          planOf(planId, 'PUT', 'licenses');
          const now = clock.now();
          const existing = licensesOf(keyOf(subject)).find((l) => l.planId === planId && isActive(l, now));
          return toLicense(existing ?? addLicense(subject, planId, { trial: options?.trial ?? false }));
        }),
      );
    },
    revokeLicense(licenseId: string, options?: WriteOptions & { reason?: string }) {
      return call('revokeLicense', options, () =>
        once(options, `revoke:${licenseId}`, () => {
          const license = licensesById.get(licenseId);
          if (!license || license.revoked) {
            throw new HttpError(`No licence "${licenseId}" (or it is already revoked).`, {
              status: 404,
              serviceCode: 'unknown_license',
              method: 'DELETE',
              path: `licenses/${licenseId}`,
            });
          }
          license.revoked = true;
        }),
      );
    },
    getAllocation(subject: Subject, featureId: string, options?: AllocationOptions) {
      return call('getAllocation', options, () =>
        allocationOf(drawOrder(subject, featureId, options?.planId), featureId),
      );
    },
    setAllocation(
      subject: Subject,
      featureId: string,
      available: number,
      options?: AllocationOptions & WriteOptions,
    ) {
      return call('setAllocation', options, () => {
        if (!Number.isFinite(available)) {
          throw new InvalidAmountError(`available must be a finite number (got ${available}).`, {
            amount: available,
            featureId,
          });
        }
        return once(
          options,
          `set:${keyOf(subject)}:${featureId}:${available}:${options?.planId ?? ''}`,
          () => {
            const granting = drawOrder(subject, featureId, options?.planId);
            if (granting.length === 0) throw noLicense(featureId, 'PUT');
            const current = toUnits(allocationOf(granting, featureId).available);
            return adjust(subject, featureId, current - toUnits(available), options?.planId, undefined);
          },
        );
      });
    },
    adjustAllocation(subject: Subject, featureId: string, usage: number, options?: AdjustAllocationOptions) {
      return call('adjustAllocation', options, () => {
        if (!Number.isFinite(usage)) {
          throw new InvalidAmountError(`usage must be a finite number (got ${usage}).`, {
            amount: usage,
            featureId,
          });
        }
        const fingerprint = `adjust:${keyOf(subject)}:${featureId}:${usage}:${options?.planId ?? ''}:${options?.floor ?? ''}`;
        return once(options, fingerprint, () =>
          adjust(subject, featureId, toUnits(usage), options?.planId, options?.floor),
        );
      });
    },
    ensureExternalUser(externalUserId: string, email: string, options?: WriteOptions) {
      return call('ensureExternalUser', options, () => {
        userIdOf({ externalUserId });
        emails.set(externalUserId, email);
      });
    },
    getPlans(query?: { featureId?: string }, options?: CallOptions) {
      return call('getPlans', options, () =>
        [...plans.values()]
          .filter((p) => query?.featureId === undefined || p.features[query.featureId] !== undefined)
          .map((p) => structuredClone(p)),
      );
    },
    async close() {},
  };
}
