/**
 * The public surface of the engine returned by `createTollgate` (shared/DESIGN.md §3–4).
 * Adapters program against these types only.
 */
import type { EntitlementProvider, Subject } from '../types.js';

/** Why a decision came out the way it did. */
export type DecisionReason =
  | 'licensed'
  | 'not_licensed'
  | 'expired'
  | 'exhausted'
  | 'unavailable'
  | 'no_subject';

/**
 * Where the answer came from: `cache` (fresh), `backend` (asked the service now),
 * `stale` (service failed; last known answer younger than `staleTtlMs`), `fallback`
 * (service failed, nothing usable cached: `failMode` decided).
 */
export type DecisionSource = 'cache' | 'backend' | 'stale' | 'fallback';

/** The answer to "may this subject use this feature?". */
export interface Decision {
  allowed: boolean;
  reason: DecisionReason;
  featureId: string;
  /** The plan asked for, or the plan of the licence that granted the feature. */
  planId?: string;
  licenseId?: string;
  /** Metered features: what is left after this decision (summed over active licences). */
  remaining?: number;
  /** When the granting licence expires (`null` = never). */
  expiresAt?: Date | null;
  source: DecisionSource;
  /** Age of the answer in ms (0 when fresh from the service). */
  ageMs: number;
}

/** `Record<featureId, amount>`: amounts are finite and > 0. */
export type Usage = Readonly<Record<string, number>>;

/** The decision for an authrep/reserve over several features: allowed only if all are. */
export interface UsageDecision extends Decision {
  /** One decision per feature in the usage, in the order given. */
  decisions: Decision[];
  usage: Usage;
}

/** Authorized now, charged later. Both methods are idempotent: the second call is a no-op. */
export interface Reservation {
  readonly decision: UsageDecision;
  /** Charge the reserved usage (queued in batched mode, already applied in sync mode). */
  commit(): Promise<void>;
  /** Give the reserved units back. */
  release(): Promise<void>;
}

/** Pino-compatible logger shape (any of pino, bunyan-like or console-wrapping objects). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Time source, injectable for tests. `now()` is epoch ms. */
export interface Clock {
  now(): number;
}

export type MeterMode = 'batched' | 'sync';

export interface TollgateOptions {
  provider: EntitlementProvider;
  /** @default 'closed' */
  failMode?: 'closed' | 'open';
  /** Budget for one backend operation, retries included. @default 2000 */
  timeoutMs?: number;
  cache?: {
    /** Bound on cached decisions. @default 10000 */
    max?: number;
    /** TTL of positive answers. @default 30000 */
    ttlMs?: number;
    /** TTL of negative answers. @default 5000 */
    negativeTtlMs?: number;
    /** How long a last known answer may be served when the service fails. @default 300000 */
    staleTtlMs?: number;
  };
  retry?: {
    /** Attempts for idempotent reads (1 = no retry). @default 3 */
    attempts?: number;
    /** @default 50 */
    baseDelayMs?: number;
    /** @default 1000 */
    maxDelayMs?: number;
  };
  circuit?: {
    /** Consecutive failures that open the circuit. @default 5 */
    failureThreshold?: number;
    /** How long the circuit stays open before a probe. @default 5000 */
    resetMs?: number;
  };
  meter?: {
    /** @default 'batched' */
    mode?: MeterMode;
    /** @default 1000 */
    flushIntervalMs?: number;
    /** Pending units per (subject, feature) that trigger a flush. @default 100 */
    maxBatchSize?: number;
    /** Bound on distinct pending (subject, feature) keys. @default 10000 */
    maxPendingKeys?: number;
  };
  /**
   * Where times (epoch ms) come from: TTLs, ages, licence ends, the circuit breaker. The default
   * reads `Date.now()` once per turn of the event loop (requests answered in one turn share
   * it, as libuv's timers do) and follows fake timers at once.
   *
   * @example
   * createTollgate({ provider, clock: { now: () => Date.now() } }); // a read per call instead
   */
  clock?: Clock;
  logger?: Logger;
  /** Listeners registered at creation, same as calling `on(event, fn)` for each. */
  hooks?: TollgateHooks;
}

/**
 * Listeners by event name, for `options.hooks`.
 *
 * @example
 * createTollgate({ provider, hooks: { 'usage:dropped': (e) => metrics.increment('usage_dropped') } });
 */
export type TollgateHooks = { [E in TollgateEventName]?: (payload: TollgateEvents[E]) => void };

/** Events and their payloads. */
export interface TollgateEvents {
  decision: { subject: Subject; decision: Decision };
  'cache:hit': { key: string };
  'cache:miss': { key: string };
  'cache:stale': { key: string; ageMs: number };
  'flush:ok': { subject: Subject; featureId: string; amount: number };
  'flush:failed': { subject: Subject; featureId: string; amount: number; error: unknown; willRetry: boolean };
  'usage:dropped': { subject: Subject; featureId: string; amount: number; reason: string };
  'backend:error': { operation: string; error: unknown };
  'circuit:open': { failures: number };
  'circuit:closed': Record<string, never>;
  fallback: { subject: Subject; featureId: string; failMode: 'open' | 'closed' };
  /**
   * Batched mode: `maxPendingKeys` reached, so this usage was written straight to the service
   * (awaited) instead of being queued. Nothing is dropped; it only costs a round trip.
   */
  'meter:full': { subject: Subject; featureId: string; pendingKeys: number };
}

/**
 * Counters since creation (monotonic), plus the current pending keys and circuit state.
 *
 * @example
 * const { usageDropped, pendingKeys } = tollgate.stats();
 */
export interface TollgateStats {
  /** Usage records (one per subject and feature) given up without reaching the service; should stay 0. */
  usageDropped: number;
  /** Events of that kind, for dashboards. */
  flushOk: number;
  flushFailed: number;
  /** (subject, feature) keys with usage waiting to be flushed, now. */
  pendingKeys: number;
  circuitOpen: boolean;
}

export type TollgateEventName = keyof TollgateEvents;

/** What `createTollgate` returns. */
export interface Tollgate {
  /** Is the subject licensed for the feature (optionally on a specific plan)? Never throws for backend failures. */
  check(subject: Subject, featureId: string, planId?: string): Promise<Decision>;
  /**
   * The cached decision if one is fresh, synchronously; `undefined` means "call `check`".
   * The adapters' hot path: a cache hit reaches `next()` without awaiting a promise.
   */
  checkCached(subject: Subject, featureId: string, planId?: string): Decision | undefined;
  /** Authorize and record usage as one operation (3scale's authrep). */
  authrep(subject: Subject, usage: Usage, options?: { planId?: string }): Promise<UsageDecision>;
  /** Authorize now, charge on `commit()`, give back on `release()`. */
  reserve(subject: Subject, usage: Usage, options?: { planId?: string }): Promise<Reservation>;
  /**
   * Batched mode only: reserve against the local view synchronously when it can decide
   * without I/O; `undefined` means "call `reserve`".
   */
  reserveCached(subject: Subject, usage: Usage, options?: { planId?: string }): Reservation | undefined;
  /** Record usage without authorizing. */
  report(subject: Subject, usage: Usage): Promise<void>;
  /** Forget everything cached for the subject, in O(1). */
  invalidate(subject: Subject): void;
  /** Push pending usage now. */
  flush(): Promise<void>;
  /** Flush, stop timers, reject new work with `ClosedError`. */
  close(options?: { timeoutMs?: number }): Promise<void>;
  /** Subscribe; returns an unsubscribe function. */
  on<E extends TollgateEventName>(event: E, listener: (payload: TollgateEvents[E]) => void): () => void;
  /** Counters: dropped usage (should be 0), flush outcomes, pending keys, circuit state. */
  stats(): TollgateStats;
  /** The provider this instance was created with (adapters use it for upsell actions). */
  readonly provider: EntitlementProvider;
}
