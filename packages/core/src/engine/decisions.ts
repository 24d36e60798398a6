/**
 * Looking a verdict up: fresh cache hit, else one coalesced request to the service, else the
 * failure policy (stale answer younger than `staleTtlMs`, else `failMode`).
 *
 * Coalescing is a map of in-flight loads, keyed like the cache: every waiter of a key gets the
 * one load's outcome, and with it the `source` (fresh or stale) its decision must report.
 */
import type { Subject } from '../types.js';
import { fromUnits } from './amount.js';
import type { Backend } from './backend.js';
import { decide } from './decide.js';
import { CacheEntry, type DecisionCache } from './decision-cache.js';
import type { Emitter } from './events.js';
import type { Ledger } from './ledger.js';
import { lineKey } from './meter.js';
import type { Config } from './options.js';
import type { Decision, DecisionSource } from './types.js';

/** The outcome of a lookup: an entry to decide from, or nothing (failure policy applies). */
export type Lookup =
  | { entry: CacheEntry; source: Exclude<DecisionSource, 'fallback'> }
  | { entry: undefined; source: 'fallback' };

/**
 * Cache-first, coalesced lookups with the stale/fallback policy.
 *
 * @example
 * const lookup = await decisions.lookup(subject, 'e:u1', 'reports', undefined);
 */
export class Decisions {
  readonly #inflight = new Map<string, Promise<Lookup>>();

  constructor(
    private readonly config: Config,
    private readonly cache: DecisionCache,
    private readonly backend: Backend,
    private readonly ledger: Ledger,
    private readonly emitter: Emitter,
  ) {}

  /**
   * The fresh entry for (subject, feature, plan), synchronously, or `undefined`. The
   * synchronous paths (`checkCached`) pass `reportMiss: false`: their caller falls back to
   * `check`, whose lookup reports the miss, so one request counts one miss.
   */
  hit(
    subjectKey: string,
    featureId: string,
    planId: string | undefined,
    reportMiss = true,
  ): CacheEntry | undefined {
    const entry = this.cache.fresh(subjectKey, featureId, planId);
    // The hooks' key is built only for a listener.
    if (entry) {
      if (this.emitter.has('cache:hit')) {
        this.emitter.emit('cache:hit', { key: this.cache.key(subjectKey, featureId, planId) });
      }
    } else if (reportMiss && this.emitter.has('cache:miss')) {
      this.emitter.emit('cache:miss', { key: this.cache.key(subjectKey, featureId, planId) });
    }
    return entry;
  }

  /**
   * {@link hit} by the subject itself, for the synchronous paths (no miss reported): a hit
   * builds no subject key (`entry.subjectKey` has it). `undefined` also for a subject with no
   * usable id.
   */
  hitFor(
    subject: Subject,
    featureId: string,
    planId: string | undefined,
    now: number,
  ): CacheEntry | undefined {
    const entry = this.cache.freshFor(subject, featureId, planId, now);
    if (entry !== undefined && this.emitter.has('cache:hit')) {
      this.emitter.emit('cache:hit', { key: this.cache.key(entry.subjectKey, featureId, planId) });
    }
    return entry;
  }

  async lookup(
    subject: Subject,
    subjectKey: string,
    featureId: string,
    planId: string | undefined,
  ): Promise<Lookup> {
    const entry = this.hit(subjectKey, featureId, planId);
    if (entry) return { entry, source: 'cache' };
    // Keyed with the subject's generation: a check after an invalidation does not join a load
    // that started before it.
    const key = this.cache.key(subjectKey, featureId, planId);
    let loading = this.#inflight.get(key);
    if (!loading) {
      const generation = this.cache.generation(subjectKey);
      loading = this.#load(key, generation, subject, subjectKey, featureId, planId).finally(() => {
        this.#inflight.delete(key);
      });
      this.#inflight.set(key, loading);
    }
    return loading;
  }

  async #load(
    key: string,
    generation: number,
    subject: Subject,
    subjectKey: string,
    featureId: string,
    planId: string | undefined,
  ): Promise<Lookup> {
    const line = lineKey(subjectKey, featureId);
    const mark = this.ledger.mark(line);
    let licenses: Awaited<ReturnType<Config['provider']['getLicenses']>>;
    try {
      licenses = await this.backend.run(
        'getLicenses',
        (signal) =>
          this.config.provider.getLicenses(
            subject,
            { featureIds: [featureId], ...(planId === undefined ? {} : { planIds: [planId] }) },
            { signal },
          ),
        { idempotent: true },
      );
    } catch {
      this.ledger.flushedSince(line, mark);
      return this.#stale(key, subjectKey, featureId, planId);
    }
    const now = this.config.clock.now();
    const meanwhile = this.ledger.flushedSince(line, mark);
    const verdict = decide(licenses, featureId, planId, now);
    const view =
      verdict.remainingUnits === undefined
        ? undefined
        : verdict.remainingUnits - this.ledger.outstanding(line) - meanwhile;
    const fresh = new CacheEntry(verdict, now, view);
    const { ttlMs, negativeTtlMs } = this.config.cache;
    // A cached "allowed" never outlives the earliest expiry among the licences it rests on.
    const ttl = verdict.allowed
      ? Math.min(ttlMs, verdict.validUntil === undefined ? ttlMs : verdict.validUntil - now)
      : negativeTtlMs;
    if (ttl > 0) this.cache.set(subjectKey, generation, featureId, planId, fresh, ttl);
    return { entry: fresh, source: 'backend' };
  }

  /** The last answer if it is younger than `staleTtlMs` and rests on no expired licence. */
  #stale(key: string, subjectKey: string, featureId: string, planId: string | undefined): Lookup {
    const entry = this.cache.any(subjectKey, featureId, planId);
    const now = this.config.clock.now();
    if (entry) {
      const ageMs = entry.ageAt(now);
      const expired = entry.validUntil !== undefined && entry.validUntil <= now;
      if (ageMs <= this.config.cache.staleTtlMs && !expired) {
        this.emitter.emit('cache:stale', { key, ageMs });
        return { entry, source: 'stale' };
      }
    }
    return { entry: undefined, source: 'fallback' };
  }
}

/**
 * The public decision for one feature from a lookup.
 *
 * @example
 * toDecision({ entry: undefined, source: 'fallback' }, 'reports', undefined, 'closed', Date.now()); // reason 'unavailable'
 */
export function toDecision(
  lookup: Lookup,
  featureId: string,
  planId: string | undefined,
  failMode: 'open' | 'closed',
  now: number,
): Decision {
  if (lookup.entry === undefined) {
    return failMode === 'open'
      ? {
          allowed: true,
          reason: 'licensed',
          featureId,
          ...(planId === undefined ? {} : { planId }),
          source: 'fallback',
          ageMs: 0,
        }
      : {
          allowed: false,
          reason: 'unavailable',
          featureId,
          ...(planId === undefined ? {} : { planId }),
          source: 'fallback',
          ageMs: 0,
        };
  }
  return entryDecision(lookup.entry, lookup.source, featureId, now);
}

/**
 * The public decision for one feature from a cache entry (a lookup that found one).
 *
 * @example
 * entryDecision(entry, 'cache', 'reports', Date.now()); // { allowed: true, reason: 'licensed', … }
 */
export function entryDecision(
  entry: CacheEntry,
  source: Exclude<DecisionSource, 'fallback'>,
  featureId: string,
  now: number,
): Decision {
  const view = entry.nano;
  // A view is kept for metered answers only (licensed or exhausted; see CacheEntry.nano).
  if (view === undefined) return withVerdict(entry, source, featureId, now, entry.allowed, undefined);
  const whole = entry.whole;
  // A whole view (see split-units.ts) is read with no bigint.
  if (!Number.isNaN(whole)) return withVerdict(entry, source, featureId, now, whole > 0, Math.max(whole, 0));
  const allowed = view > 0n;
  return withVerdict(entry, source, featureId, now, allowed, allowed ? fromUnits(view) : 0);
}

/**
 * The decision of a one-feature batched reservation of `units` from a cached entry, and the
 * taking: as {@link entryDecision}, denied as `exhausted` when the view cannot cover the units;
 * when allowed, the units are taken from the view and `remaining` is what is left after them.
 * `whole` is the same charge in whole units, or NaN (see split-units.ts): a whole charge from
 * a whole view is decided and taken with numbers, where each bigint operation inside an app
 * costs ~0.4 µs (cold caches, measured), and this runs per metered request.
 *
 * @example
 * const decision = takeDecision(entry, 'sms', Date.now(), toUnits(1), 1); // entry's view is 1 sms less if allowed
 */
export function takeDecision(
  entry: CacheEntry,
  featureId: string,
  now: number,
  units: bigint,
  whole: number,
): Decision {
  const have = entry.whole;
  // Both whole (neither is NaN): a charge is more than 0, so "covers" is `have >= whole`.
  if (!Number.isNaN(have) && !Number.isNaN(whole)) {
    if (have >= whole) {
      const left = have - whole;
      entry.whole = left;
      return withVerdict(entry, 'cache', featureId, now, true, left);
    }
    return withVerdict(entry, 'cache', featureId, now, false, Math.max(have, 0));
  }
  const view = entry.view;
  if (view === undefined) return entryDecision(entry, 'cache', featureId, now);
  if (units > 0n ? view >= units : view > 0n) {
    const left = view - units;
    entry.view = left;
    return withVerdict(entry, 'cache', featureId, now, true, fromUnits(left));
  }
  return withVerdict(entry, 'cache', featureId, now, false, view > 0n ? fromUnits(view) : 0);
}

/**
 * The decision object: the verdict's fields, and for a metered answer (`remaining` given) its
 * own `allowed` (`licensed` or `exhausted`) and `remaining`.
 */
function withVerdict(
  entry: CacheEntry,
  source: Exclude<DecisionSource, 'fallback'>,
  featureId: string,
  now: number,
  allowed: boolean,
  remaining: number | undefined,
): Decision {
  const ageMs = source === 'backend' ? 0 : entry.ageAt(now);
  const { planId: grantedPlan, licenseId, expiresAt } = entry;
  const reason = remaining === undefined ? entry.reason : allowed ? 'licensed' : 'exhausted';
  if (grantedPlan !== undefined && licenseId !== undefined && expiresAt !== undefined) {
    // The usual answer, a licence that grants the feature: one literal with every field, in
    // the order of the general case below, instead of an object that grows field by field
    // (this runs for every gated request).
    if (remaining === undefined) {
      return { allowed, reason, featureId, source, ageMs, planId: grantedPlan, licenseId, expiresAt };
    }
    return {
      allowed,
      reason,
      featureId,
      source,
      ageMs,
      planId: grantedPlan,
      licenseId,
      expiresAt,
      remaining,
    };
  }
  const decision: Decision = { allowed, reason, featureId, source, ageMs };
  if (grantedPlan !== undefined) decision.planId = grantedPlan;
  if (licenseId !== undefined) decision.licenseId = licenseId;
  if (expiresAt !== undefined) decision.expiresAt = expiresAt;
  if (remaining !== undefined) decision.remaining = remaining;
  return decision;
}

/**
 * The decision for a request that names no subject (401 `no_subject`), decided locally with
 * no cache or service involved: `source: 'backend'` and `ageMs: 0`, as fresh as it gets.
 * The engine and the gates both answer with this one.
 *
 * @example
 * noSubjectDecision('reports'); // { allowed: false, reason: 'no_subject', featureId: 'reports', … }
 */
export function noSubjectDecision(featureId: string, planId?: string): Decision {
  const decision: Decision = { allowed: false, reason: 'no_subject', featureId, source: 'backend', ageMs: 0 };
  if (planId !== undefined) decision.planId = planId;
  return decision;
}
