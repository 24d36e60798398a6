/**
 * Cached verdicts per (subject, feature, plan): a bound on entries, per-entry TTL (positive,
 * negative, capped at licence expiry) read from the injectable clock.
 *
 * Expired entries are kept so the last answer can still be served when the service fails;
 * the bound is what eventually removes them.
 *
 * Entries are found subject first (a short chain per subject), then by feature and plan, with
 * no key string built per lookup. Inside a real app a cache hit runs with cold CPU caches (the
 * framework's own work in between evicts them), so what a hit costs is mostly the number of
 * objects and tables it touches: joining a key string and hashing it, then going through a
 * slot table and typed arrays, measured ~2.2 µs per hit in an Express app; looking the
 * subject up, then reading one entry that holds its own expiry and use mark, ~0.6 µs less.
 * A cached check looks the subject up by its own id (`freshFor`), in one map per kind of id,
 * so it does not even build the `u:`/`e:` subject key.
 *
 * `invalidate(subject)` is O(1): the subject's chain is dropped. Each subject also has a
 * generation number, so an answer loaded before an invalidation is not cached after it, and
 * coalesced loads (keyed by {@link DecisionCache.key}) are not shared across one.
 *
 * Eviction is CLOCK (second chance) rather than a strict LRU: a hit only sets a flag, where an
 * LRU relinks the entry on every read. An entry read since the hand last passed is skipped
 * once, so what is in use stays and what a scan filled goes first.
 */
import type { Subject } from '../types.js';
import type { Verdict } from './decide.js';
import type { Line } from './ledger.js';
import type { MeterQueue, MeterTarget } from './meter.js';
import { readUnits, type SplitUnits, writeUnits } from './split-units.js';
import { externalUserIdOf, userIdOf } from './subject-key.js';
import type { Clock } from './types.js';

/**
 * One cached answer. Its view (`view`, a bigint) is mutable: batched reservations take from it
 * in place, as whole units with numbers on the hot path (see split-units.ts).
 */
export class CacheEntry implements SplitUnits {
  // The verdict's fields a hit copies into its decision, and when it was fetched, held by the
  // entry itself: a hit then reads one object where it read three (the entry, the verdict and
  // a boxed epoch time), and inside an app each object a hit touches is a likely cache miss.
  // The verdict itself is not kept.
  readonly allowed: boolean;
  readonly reason: Verdict['reason'];
  readonly planId: string | undefined;
  readonly licenseId: string | undefined;
  readonly expiresAt: Date | null | undefined;
  /**
   * When it was fetched, in ms since {@link FETCH_ORIGIN}: with the system clock a small integer,
   * kept in the object (any other clock's times only cost the box back).
   */
  readonly fetchedSince: number;
  /** The verdict's `validUntil`: the earliest expiry (epoch ms) among the licences it rests on. */
  readonly validUntil: number | undefined;
  /** The view (below) in whole units while it is whole; NaN otherwise, and for a feature that is not metered. */
  whole: number;
  /**
   * The view in nano-units when `whole` is NaN, 0n under a whole view, and undefined only for a
   * feature that is not metered: that is told without reading `whole` (a boxed number).
   */
  nano: bigint | undefined;
  /** Target, ledger and meter keys of this (subject, feature, plan), built on its first charge and reused. */
  keys: ChargeKeys | undefined;
  // The cache's own bookkeeping, on the entry so that a hit touches one object.
  /**
   * When it stops being fresh, in ms since the cache was made: a small integer, stored in the
   * object, where an epoch time would be one more boxed number per entry.
   */
  staleAt: number;
  /** Read since the hand last passed: 1 spares the entry once. */
  used: 0 | 1;
  /** Its place in the clock; -1 until cached. */
  slot: number;
  /** Its subject, its name among the subject's entries (feature, or feature and plan), and the next of them. */
  subjectKey: string;
  name: string;
  next: CacheEntry | undefined;

  /**
   * A new, not yet cached entry (every field set, so all entries share one shape).
   *
   * @example
   * cache.set('e:u1', cache.generation('e:u1'), 'reports', undefined, new CacheEntry(verdict, now, undefined), 30_000);
   */
  constructor(verdict: Verdict, fetchedAt: number, view: bigint | undefined) {
    this.allowed = verdict.allowed;
    this.reason = verdict.reason;
    this.planId = verdict.planId;
    this.licenseId = verdict.licenseId;
    this.expiresAt = verdict.expiresAt;
    this.fetchedSince = smallInteger(fetchedAt - FETCH_ORIGIN);
    this.validUntil = verdict.validUntil;
    this.whole = Number.NaN;
    this.nano = undefined;
    writeUnits(this, view);
    this.keys = undefined;
    this.staleAt = 0;
    this.used = 0;
    this.slot = -1;
    this.subjectKey = '';
    this.name = '';
    this.next = undefined;
  }

  /** Its age at `now` (epoch ms), in ms. */
  ageAt(now: number): number {
    return now - FETCH_ORIGIN - this.fetchedSince;
  }

  /** Whether the feature is metered (has a view), without making the view's bigint. */
  get metered(): boolean {
    return this.nano !== undefined;
  }

  /** Metered features: the local view of remaining units (service's answer − our outstanding usage). */
  get view(): bigint | undefined {
    return readUnits(this);
  }

  set view(units: bigint | undefined) {
    writeUnits(this, units);
  }
}

/**
 * What entries count their fetch time from: an epoch time is past the small integers V8 keeps
 * in an object (it would be a separate boxed number), a difference from this is one.
 */
const FETCH_ORIGIN = Date.now();

/**
 * `value`, as a small integer when it is a whole number that fits one. Arithmetic on epoch
 * times (boxed numbers) gives a boxed number even when the result is small, until V8 has
 * optimized the code doing it: of 10,000 entries cached at start-up, 3 in 10 held a boxed
 * `staleAt` and 2 in 10 a boxed `fetchedSince` (measured), one more object, and a cold one
 * inside an app, for every hit on them to read. `| 0` gives a small integer at once.
 */
function smallInteger(value: number): number {
  const small = value | 0;
  return small === value ? small : value;
}

/** Where a charge of one (subject, feature, plan) is booked: its target and map keys. */
export interface ChargeKeys {
  /** The ledger line: (subject, feature). */
  line: string;
  /** The meter's queue: (subject, feature, plan). */
  meter: string;
  /** The target itself, shared by the charges of the entry that keeps these keys. */
  target: MeterTarget;
  /**
   * The ledger line and the meter queue last booked on: the next charge skips their map
   * lookups while they are in use (each is marked once its owner drops it).
   */
  ledgerLine: Line | undefined;
  queue: MeterQueue | undefined;
}

const SEP = '\u0000';

/** The entry of (feature, plan) among a subject's, from its first. */
function find(
  first: CacheEntry | undefined,
  featureId: string,
  planId: string | undefined,
): CacheEntry | undefined {
  // The usual lookup has no plan: the feature id is the name, and no string is built.
  const name = nameOf(featureId, planId);
  let entry = first;
  while (entry !== undefined && entry.name !== name) entry = entry.next;
  return entry;
}

/** The name of an entry among its subject's. */
function nameOf(featureId: string, planId: string | undefined): string {
  return planId === undefined ? featureId : featureId + SEP + planId;
}

/**
 * The bounded decision cache with O(1) per-subject invalidation.
 *
 * @example
 * const entry = cache.fresh('e:u1', 'reports', undefined); // CacheEntry | undefined
 */
export class DecisionCache {
  /**
   * Subject → the first of its entries (they are chained through `next`), by the subject's own
   * id, one map per kind of id: a lookup from a subject builds no `u:`/`e:` key string.
   */
  readonly #byUserId = new Map<string, CacheEntry>();
  readonly #byExternalUserId = new Map<string, CacheEntry>();
  /** Every cached entry by slot, in clock order; slots are reused once the cache is full. */
  readonly #ring: CacheEntry[] = [];
  #hand = 0;
  readonly #max: number;
  readonly #generations = new Map<string, number>();
  readonly #maxGenerations: number;
  #nextGeneration = 1;
  /** Generation of subjects not in the map; raised when the map has to forget one. */
  #baseGeneration = 0;
  readonly #time: Clock;
  /** What `staleAt` counts from. */
  readonly #epoch: number;

  constructor(options: { max: number; clock: Clock }) {
    this.#time = options.clock;
    this.#epoch = options.clock.now();
    this.#max = options.max;
    this.#maxGenerations = options.max;
  }

  /** The subject's current generation: pass it to {@link set} for an answer loaded from now on. */
  generation(subjectKey: string): number {
    return this.#generations.size === 0
      ? this.#baseGeneration
      : (this.#generations.get(subjectKey) ?? this.#baseGeneration);
  }

  /**
   * A name for (subject, feature, plan) under the subject's current generation: for coalescing
   * loads and for the cache hooks. Lookups do not need it.
   */
  key(subjectKey: string, featureId: string, planId: string | undefined): string {
    return [subjectKey, this.generation(subjectKey), featureId, planId ?? ''].join(SEP);
  }

  /** A fresh entry, or `undefined` (missing or past its TTL). */
  fresh(subjectKey: string, featureId: string, planId: string | undefined): CacheEntry | undefined {
    return this.#ifFresh(this.any(subjectKey, featureId, planId), this.#time.now());
  }

  /**
   * {@link fresh} for the subject itself (keyed as `subjectKey(subject)` would be): for the
   * cached checks, which then build no subject key. `undefined` also for a subject with no
   * usable id. `now`: the clock's time, which the caller has read already (one read per
   * cached check, not two).
   */
  freshFor(
    subject: Subject,
    featureId: string,
    planId: string | undefined,
    now: number,
  ): CacheEntry | undefined {
    const userId = userIdOf(subject);
    let first: CacheEntry | undefined;
    if (userId !== undefined) first = this.#byUserId.get(userId);
    else {
      const externalUserId = externalUserIdOf(subject);
      if (externalUserId === undefined) return undefined;
      first = this.#byExternalUserId.get(externalUserId);
    }
    return this.#ifFresh(find(first, featureId, planId), now);
  }

  #ifFresh(entry: CacheEntry | undefined, now: number): CacheEntry | undefined {
    if (entry === undefined || now - this.#epoch >= entry.staleAt) return undefined;
    // Written only when it changes: a write makes the entry's memory dirty (to be written back),
    // and between passes of the hand nearly every hit finds the mark already set.
    if (entry.used === 0) entry.used = 1;
    return entry;
  }

  /** The entry whether fresh or not (for stale serving and for giving units back). */
  any(subjectKey: string, featureId: string, planId: string | undefined): CacheEntry | undefined {
    return find(this.#first(subjectKey), featureId, planId);
  }

  /** The subject's first entry: its map is told by the key's `u:`/`e:` prefix. */
  #first(subjectKey: string): CacheEntry | undefined {
    return this.#chains(subjectKey).get(subjectKey.slice(2));
  }

  /** Makes `entry` (or nothing) the subject's first entry. */
  #setFirst(subjectKey: string, entry: CacheEntry | undefined): void {
    const chains = this.#chains(subjectKey);
    if (entry === undefined) chains.delete(subjectKey.slice(2));
    else chains.set(subjectKey.slice(2), entry);
  }

  #chains(subjectKey: string): Map<string, CacheEntry> {
    return subjectKey.startsWith('u:') ? this.#byUserId : this.#byExternalUserId;
  }

  /**
   * Caches `entry` (a new {@link CacheEntry}) for `ttlMs` (fresh while its age is < ttlMs), and
   * never past the licence's end. Does nothing if the subject was invalidated since
   * `generation` was read: that answer may predate the change.
   */
  set(
    subjectKey: string,
    generation: number,
    featureId: string,
    planId: string | undefined,
    entry: CacheEntry,
    ttlMs: number,
  ): void {
    if (generation !== this.generation(subjectKey)) return;
    const now = this.#time.now();
    const validUntil = entry.validUntil ?? Number.POSITIVE_INFINITY;
    entry.staleAt = smallInteger(Math.min(now + ttlMs, validUntil) - this.#epoch);
    entry.subjectKey = subjectKey;
    entry.name = nameOf(featureId, planId);
    const previous = this.any(subjectKey, featureId, planId);
    if (previous !== undefined) {
      // A reloaded answer takes the old one's slot, marked used so the hand does not take it
      // straight away.
      this.#unlink(previous);
      entry.slot = previous.slot;
      entry.used = 1;
    } else {
      // A new entry goes where the hand just passed, so it is the last the hand reaches.
      // (Before the chain is read: the entry evicted may be one of this subject's.)
      entry.slot = this.#ring.length < this.#max ? this.#ring.length : this.#evict();
      entry.used = 0;
    }
    this.#ring[entry.slot] = entry;
    entry.next = this.#first(subjectKey);
    this.#setFirst(subjectKey, entry);
  }

  /** Frees the first slot not read since the hand last passed, and returns it. */
  #evict(): number {
    for (;;) {
      const slot = this.#hand;
      this.#hand = slot + 1 === this.#max ? 0 : slot + 1;
      const entry = this.#ring[slot]!;
      if (entry.used === 1) {
        entry.used = 0;
        continue;
      }
      this.#unlink(entry);
      return slot;
    }
  }

  /**
   * Takes an entry out of its subject's chain, and the subject out of the map with its last
   * entry. An entry of an invalidated subject is in no chain the map reaches: nothing to do.
   */
  #unlink(entry: CacheEntry): void {
    const first = this.#first(entry.subjectKey);
    if (first === entry) {
      this.#setFirst(entry.subjectKey, entry.next);
    } else {
      let before = first;
      while (before !== undefined && before.next !== entry) before = before.next;
      if (before !== undefined) before.next = entry.next;
    }
    entry.next = undefined;
  }

  /** Makes every entry of the subject unreachable, in O(1). */
  invalidate(subjectKey: string): void {
    // Its entries stay in the clock until the hand takes them; they are found no more.
    this.#setFirst(subjectKey, undefined);
    this.#generations.delete(subjectKey);
    this.#generations.set(subjectKey, this.#nextGeneration++);
    if (this.#generations.size > this.#maxGenerations) {
      // Forgetting a subject's generation would let a load started before its invalidation
      // match again; raising the base makes every load in flight from before stale instead
      // (a few answers not cached, never a wrong one cached).
      const oldest = this.#generations.keys().next().value as string;
      this.#generations.delete(oldest);
      this.#baseGeneration = this.#nextGeneration++;
    }
  }

  clear(): void {
    this.#byUserId.clear();
    this.#byExternalUserId.clear();
    this.#ring.length = 0;
    this.#hand = 0;
  }
}
