/**
 * `createTollgate`: cached entitlement checks, authrep metering and the failure policy over an
 * `EntitlementProvider` (shared/DESIGN.md §3–4). This module wires the parts together and
 * holds the operations; each part lives in its own module.
 */
import { randomUUID } from 'node:crypto';
import { AllocationExhaustedError, ClosedError, ConfigurationError, isTollgateError } from '../errors.js';
import type { Allocation, Subject } from '../types.js';
import { fromUnits, parseUsage, toUnits, type UsageItem, usageOf, usageUnits } from './amount.js';
import { Backend } from './backend.js';
import { Circuit } from './circuit.js';
import { type CacheEntry, type ChargeKeys, DecisionCache } from './decision-cache.js';
import {
  Decisions,
  entryDecision,
  type Lookup,
  noSubjectDecision,
  takeDecision,
  toDecision,
} from './decisions.js';
import { Emitter } from './events.js';
import { Ledger } from './ledger.js';
import { chargeKeys, type ExactWrite, lineKey, Meter, type MeterTarget } from './meter.js';
import { type Config, resolveConfig } from './options.js';
import { FeatureReservation, NOTHING_TO_SETTLE, OnceReservation, type Settler } from './reservation.js';
import { type ReserveOne, reserveOneCached } from './reserve-one.js';
import { SETTLED } from './settled.js';
import { wholeAmount } from './split-units.js';
import { subjectKey } from './subject-key.js';
import type {
  Decision,
  Reservation,
  Tollgate,
  TollgateEventName,
  TollgateEvents,
  TollgateOptions,
  TollgateStats,
  Usage,
  UsageDecision,
} from './types.js';

/** One feature's part of a reservation. */
interface Charge {
  target: MeterTarget;
  units: bigint;
  /** Batched: the units are held in the ledger and were taken from the local view. */
  held: boolean;
  /** Sync: the idempotency key of the conditional decrement already applied. */
  applied?: string;
  /** Sync: a decrement whose outcome is unknown, queued for replay; its refund hangs here. */
  pending?: ExactWrite;
  /** Batched: where the charge is booked (from the cache entry when there is one). */
  keys: ChargeKeys | undefined;
  /** `units` in whole units when they are whole, for the number path (see split-units.ts); else NaN. */
  whole: number;
}

/** A sync reservation's charges, and the idempotency base their refunds are keyed on. */
interface SyncCharges {
  charges: Charge[];
  base: string;
}

/**
 * Creates a Tollgate engine over a provider. Options are validated now: a wrong option throws a
 * `ConfigurationError` whose message says what to pass.
 *
 * @example
 * import { createTollgate, licensarioProvider } from '@tollgate/core';
 *
 * const tollgate = createTollgate({
 *   provider: licensarioProvider({ baseUrl: 'http://localhost:4000', apiKey, apiSecret }),
 *   cache: { ttlMs: 30_000 },
 *   meter: { mode: 'batched' },
 * });
 * const decision = await tollgate.check({ externalUserId: 'u1' }, 'reports');
 * if (decision.allowed) { ... }
 * const sms = await tollgate.authrep({ externalUserId: 'u1' }, { sms: 1 });
 * await tollgate.close();
 */
export function createTollgate(options: TollgateOptions): Tollgate {
  return new Engine(resolveConfig(options));
}

class Engine implements Tollgate, ReserveOne {
  readonly provider: Config['provider'];
  readonly #config: Config;
  readonly #emitter: Emitter;
  readonly #circuit: Circuit;
  readonly #backend: Backend;
  readonly #cache: DecisionCache;
  readonly #ledger = new Ledger();
  readonly #decisions: Decisions;
  readonly #meter: Meter;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Commits of this turn of the event loop, queued together at its end (see `commitSoon`). */
  #soon: Charge[] = [];
  /** Batched reservations: commit queues the held units, release gives them back locally. */
  readonly #localSettler: Settler<Charge[]> = {
    commit: (charges) => this.#commit(charges),
    release: (charges) => {
      this.#releaseLocal(charges);
      return SETTLED;
    },
  };
  /** One-feature batched reservations carry their charge alone (none for a boolean feature). */
  readonly #oneSettler: Settler<Charge | undefined> = {
    commit: (charge) =>
      charge === undefined || this.#queue(charge) ? SETTLED : this.#writeThrough([charge]),
    commitSoon: (charge) => {
      if (charge !== undefined) this.#commitSoon(charge);
    },
    release: (charge) => {
      if (charge !== undefined) this.#releaseLocal([charge]);
      return SETTLED;
    },
  };
  /** The usage decision of a one-feature reservation, built if something reads it. */
  readonly #summarize = (decision: Decision, amount: number): UsageDecision =>
    this.#usageDecision([decision], usageOf(decision.featureId, amount));
  /** Sync reservations: the charges are already applied; release refunds them. */
  readonly #syncSettler: Settler<SyncCharges> = {
    commit: () => SETTLED,
    release: ({ charges, base }) => this.#releaseSync(charges, base),
  };

  constructor(config: Config) {
    this.#config = config;
    this.provider = config.provider;
    this.#emitter = new Emitter(config.logger);
    for (const [event, listener] of Object.entries(config.hooks)) {
      if (listener) this.#emitter.on(event as TollgateEventName, listener as never);
    }
    this.#circuit = new Circuit({
      ...config.circuit,
      clock: config.clock,
      listener: {
        opened: (failures) => {
          config.logger.warn({ failures }, 'tollgate: circuit open, the entitlement service is failing');
          this.#emitter.emit('circuit:open', { failures });
        },
        closed: () => {
          config.logger.info({}, 'tollgate: circuit closed, the entitlement service answers again');
          this.#emitter.emit('circuit:closed', {});
        },
      },
    });
    this.#backend = new Backend({
      timeoutMs: config.timeoutMs,
      retry: config.retry,
      circuit: this.#circuit,
      emitter: this.#emitter,
      clock: config.clock,
    });
    this.#cache = new DecisionCache({ max: config.cache.max, clock: config.clock });
    this.#decisions = new Decisions(config, this.#cache, this.#backend, this.#ledger, this.#emitter);
    this.#meter = new Meter(
      config,
      this.#backend,
      this.#emitter,
      this.#ledger,
      (target, allocation, meanwhile) => this.#synced(target, allocation, meanwhile),
    );
    // Both modes: batched flushes, and (sync too) retries of exact writes whose answer was lost.
    this.#meter.start();
  }

  // ── checks ────────────────────────────────────────────────────────────────────────────

  checkCached(subject: Subject, featureId: string, planId?: string): Decision | undefined {
    this.#assertOpen();
    const now = this.#config.clock.now();
    const entry = this.#decisions.hitFor(subject, featureId, planId, now);
    if (entry === undefined) {
      return subjectKey(subject) === undefined ? this.#noSubject(subject, featureId, planId) : undefined;
    }
    return this.#emitDecision(subject, entryDecision(entry, 'cache', featureId, now));
  }

  async check(subject: Subject, featureId: string, planId?: string): Promise<Decision> {
    this.#assertOpen();
    assertFeatureId(featureId);
    const sk = subjectKey(subject);
    if (sk === undefined) return this.#noSubject(subject, featureId, planId);
    const lookup = await this.#decisions.lookup(subject, sk, featureId, planId);
    const decision = toDecision(lookup, featureId, planId, this.#config.failMode, this.#config.clock.now());
    if (lookup.source === 'fallback') this.#fallback(subject, featureId);
    return this.#emitDecision(subject, decision);
  }

  // ── metering ──────────────────────────────────────────────────────────────────────────

  async authrep(subject: Subject, usage: Usage, options: { planId?: string } = {}): Promise<UsageDecision> {
    const reservation = await this.reserve(subject, usage, options);
    await reservation.commit();
    return reservation.decision;
  }

  async reserve(subject: Subject, usage: Usage, options: { planId?: string } = {}): Promise<Reservation> {
    const items = parseUsage(usage);
    this.#assertOpen();
    const planId = options.planId;
    const sk = subjectKey(subject);
    if (sk === undefined) return this.#deniedReservation(subject, items, usage, planId);
    const lookups = await Promise.all(
      items.map((item) => this.#decisions.lookup(subject, sk, item.featureId, planId)),
    );
    return this.#config.meter.mode === 'sync'
      ? this.#reserveSync(subject, sk, items, lookups, usage, planId)
      : this.#reserveLocal(subject, sk, items, lookups, usage, planId);
  }

  reserveCached(subject: Subject, usage: Usage, options: { planId?: string } = {}): Reservation | undefined {
    const items = parseUsage(usage);
    this.#assertOpen();
    if (this.#config.meter.mode !== 'batched') return undefined;
    const sk = subjectKey(subject);
    if (sk === undefined) return undefined;
    const lookups = new Array<Lookup>(items.length);
    for (let i = 0; i < items.length; i++) {
      const entry = this.#decisions.hit(sk, items[i]!.featureId, options.planId, false);
      if (!entry) return undefined;
      lookups[i] = { entry, source: 'cache' };
    }
    return this.#reserveLocal(subject, sk, items, lookups, usage, options.planId);
  }

  [reserveOneCached](
    subject: Subject,
    featureId: string,
    amount: number,
    planId: string | undefined,
  ): Reservation | undefined {
    const units = usageUnits(featureId, amount);
    this.#assertOpen();
    if (this.#config.meter.mode !== 'batched') return undefined;
    const now = this.#config.clock.now();
    // No entry also for a subject with no usable id: `reserve` answers that one.
    const entry = this.#decisions.hitFor(subject, featureId, planId, now);
    if (!entry) return undefined;
    const sk = entry.subjectKey;
    // Decided and taken from the view in one step (see takeDecision): the charge only books it.
    const whole = wholeAmount(amount);
    const decision = takeDecision(entry, featureId, now, units, whole);
    const allowed = decision.allowed;
    const charge = allowed
      ? this.#hold(subject, sk, featureId, units, planId, entry, decision, true, whole)
      : undefined;
    this.#emitDecision(subject, decision);
    return new FeatureReservation(decision, amount, this.#summarize, !allowed, this.#oneSettler, charge);
  }

  async report(subject: Subject, usage: Usage): Promise<void> {
    const items = parseUsage(usage);
    this.#assertOpen();
    const sk = subjectKey(subject);
    if (sk === undefined) {
      throw new ConfigurationError(
        'report(subject, usage) needs a subject: { userId } or { externalUserId }; got none.',
      );
    }
    const charges = items.map((item) => this.#charge(subject, sk, item.featureId, item.units, undefined));
    if (this.#config.meter.mode === 'batched') {
      for (const charge of charges) {
        // Reported usage is not authorized, but the local view must still account for it.
        const entry = this.#cache.any(sk, charge.target.featureId, undefined);
        if (entry?.view !== undefined) entry.view -= charge.units;
        this.#ledger.hold(lineKey(sk, charge.target.featureId), charge.units);
        charge.held = true;
      }
      await this.#commit(charges);
      return;
    }
    await Promise.all(
      charges.map(async (charge) => {
        const idempotencyKey = randomUUID();
        try {
          const allocation = await this.#write(charge.target, charge.units, idempotencyKey, undefined);
          this.#synced(charge.target, allocation, 0n);
        } catch {
          // Unknown whether it landed: replay with the same key until the service answers.
          this.#exact({ ...charge.target, units: charge.units, idempotencyKey });
        }
      }),
    );
  }

  // ── lifecycle ─────────────────────────────────────────────────────────────────────────

  invalidate(subject: Subject): void {
    const sk = subjectKey(subject);
    if (sk !== undefined) this.#cache.invalidate(sk);
  }

  async flush(): Promise<void> {
    this.#commitNow();
    await this.#meter.flush();
  }

  close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#commitNow();
    this.#closed = true;
    this.#meter.stop();
    const timeoutMs = options.timeoutMs ?? 5000;
    // Wall-clock, like the meter's drain: a frozen injected clock must not stall close().
    const deadline = Date.now() + timeoutMs;
    this.#closing = (async () => {
      await this.#meter.drain(deadline, Math.min(250, this.#config.circuit.resetMs));
      if (this.#meter.size > 0)
        this.#meter.dropAll(`close() timed out after ${timeoutMs} ms with usage unflushed`);
      this.#cache.clear();
    })();
    return this.#closing;
  }

  on<E extends TollgateEventName>(event: E, listener: (payload: TollgateEvents[E]) => void): () => void {
    return this.#emitter.on(event, listener);
  }

  stats(): TollgateStats {
    return { ...this.#meter.stats, pendingKeys: this.#meter.size, circuitOpen: this.#circuit.isOpen };
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError();
  }

  #emitDecision(subject: Subject, decision: Decision): Decision {
    if (this.#emitter.has('decision')) this.#emitter.emit('decision', { subject, decision });
    return decision;
  }

  #fallback(subject: Subject, featureId: string): void {
    const failMode = this.#config.failMode;
    this.#config.logger.warn(
      { featureId, failMode },
      'tollgate: service unavailable and no usable cached answer',
    );
    this.#emitter.emit('fallback', { subject, featureId, failMode });
  }

  #noSubject(subject: Subject, featureId: string, planId: string | undefined): Decision {
    return this.#emitDecision(subject, noSubjectDecision(featureId, planId));
  }

  #charge(
    subject: Subject,
    sk: string,
    featureId: string,
    units: bigint,
    planId: string | undefined,
  ): Charge {
    return {
      target: { subject, subjectKey: sk, featureId, planId },
      units,
      held: false,
      keys: undefined,
      whole: Number.NaN,
    };
  }

  /** The service's answer after a write refreshes the local view of that key. */
  #synced(target: MeterTarget, allocation: Allocation, meanwhile: bigint): void {
    const entry = this.#cache.any(target.subjectKey, target.featureId, target.planId);
    if (entry?.view === undefined) return;
    entry.view =
      toUnits(allocation.available) -
      this.#ledger.outstanding(lineKey(target.subjectKey, target.featureId)) -
      meanwhile;
  }

  #usageDecision(decisions: Decision[], usage: Usage): UsageDecision {
    // The first denied decision speaks for the whole usage, else the first one.
    let main = decisions[0]!;
    for (let i = 1; i < decisions.length && main.allowed; i++) {
      if (!decisions[i]!.allowed) main = decisions[i]!;
    }
    const { allowed, reason, featureId, source, ageMs, planId, licenseId, expiresAt, remaining } = main;
    // Built from literals, not spread or Object.assign'ed, which grow the object field by
    // field: this runs for every metered request. The usual one (a metered licence) is one
    // literal with every field; the general case adds the optional ones in the same order.
    if (
      planId !== undefined &&
      licenseId !== undefined &&
      expiresAt !== undefined &&
      remaining !== undefined
    ) {
      return {
        allowed,
        reason,
        featureId,
        source,
        ageMs,
        planId,
        licenseId,
        expiresAt,
        remaining,
        decisions,
        usage,
      };
    }
    const head: Decision = { allowed, reason, featureId, source, ageMs };
    if (planId !== undefined) head.planId = planId;
    if (licenseId !== undefined) head.licenseId = licenseId;
    if (expiresAt !== undefined) head.expiresAt = expiresAt;
    if (remaining !== undefined) head.remaining = remaining;
    return Object.assign(head, { decisions, usage });
  }

  #deniedReservation(
    subject: Subject,
    items: UsageItem[],
    usage: Usage,
    planId: string | undefined,
  ): Reservation {
    const decisions = items.map((item) => this.#noSubject(subject, item.featureId, planId));
    return new OnceReservation(this.#usageDecision(decisions, usage), true, NOTHING_TO_SETTLE, undefined);
  }

  /** Batched mode: authorize against the local views, all features or none. */
  #reserveLocal(
    subject: Subject,
    sk: string,
    items: UsageItem[],
    lookups: Lookup[],
    usage: Usage,
    planId: string | undefined,
  ): Reservation {
    // Plain loops, not map/every/forEach with closures: this runs for every metered request.
    const now = this.#config.clock.now();
    // Arrays sized up front: a first push reserves room for 17.
    const decisions = new Array<Decision>(items.length);
    let allowed = true;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const lookup = lookups[i]!;
      const decision = toDecision(lookup, item.featureId, planId, this.#config.failMode, now);
      if (lookup.source === 'fallback') this.#fallback(subject, item.featureId);
      exhaust(decision, lookup.entry?.view, item.units);
      if (!decision.allowed) allowed = false;
      decisions[i] = decision;
    }
    const charges = new Array<Charge>(allowed ? items.length : 0);
    let charged = 0;
    for (let i = 0; allowed && i < items.length; i++) {
      const item = items[i]!;
      const charge = this.#hold(
        subject,
        sk,
        item.featureId,
        item.units,
        planId,
        lookups[i]!.entry,
        decisions[i]!,
      );
      if (charge !== undefined) charges[charged++] = charge;
    }
    charges.length = charged;
    for (const decision of decisions) this.#emitDecision(subject, decision);
    return new OnceReservation(this.#usageDecision(decisions, usage), !allowed, this.#localSettler, charges);
  }

  /**
   * Takes an allowed feature's units from the local view and holds them in the ledger; the
   * charge to commit or release, or `undefined` for a boolean feature (nothing to charge).
   * Without an entry (failing open) the units are charged all the same. `taken`: the units are
   * already out of the view (`takeDecision`), only the ledger and the charge are left.
   * `whole`: the units in whole units (or NaN), so they are held with no bigint.
   */
  #hold(
    subject: Subject,
    sk: string,
    featureId: string,
    units: bigint,
    planId: string | undefined,
    entry: CacheEntry | undefined,
    decision: Decision,
    taken = false,
    whole = Number.NaN,
  ): Charge | undefined {
    if (entry !== undefined && !entry.metered) return undefined;
    if (!taken && entry?.view !== undefined) {
      entry.view -= units;
      decision.remaining = entry.view > 0n ? fromUnits(entry.view) : 0;
    }
    let keys = entry?.keys;
    if (keys === undefined) {
      keys = chargeKeys({ subject, subjectKey: sk, featureId, planId });
      if (entry !== undefined) entry.keys = keys;
    }
    // The fields in #charge's order: one shape for every charge.
    const charge: Charge = { target: keys.target, units, held: true, keys, whole };
    if (!Number.isNaN(whole)) this.#ledger.holdWhole(keys, whole);
    else this.#ledger.hold(keys.line, units);
    return charge;
  }

  /** Sync mode: one conditional decrement per metered feature, at the service. */
  async #reserveSync(
    subject: Subject,
    sk: string,
    items: UsageItem[],
    lookups: Lookup[],
    usage: Usage,
    planId: string | undefined,
  ): Promise<Reservation> {
    const now = this.#config.clock.now();
    const decisions = items.map((item, i) => {
      const lookup = lookups[i]!;
      if (lookup.source === 'fallback') this.#fallback(subject, item.featureId);
      return toDecision(lookup, item.featureId, planId, this.#config.failMode, now);
    });
    // A licence answer that is not metered-and-active ends it here: nothing is written.
    const licensed = decisions.every(
      (d, i) => d.allowed || (d.reason === 'exhausted' && lookups[i]!.entry?.view !== undefined),
    );
    const charges: Charge[] = [];
    if (!licensed) {
      for (const decision of decisions) this.#emitDecision(subject, decision);
      return new OnceReservation(this.#usageDecision(decisions, usage), true, NOTHING_TO_SETTLE, undefined);
    }
    const base = randomUUID();
    const outcomes = await Promise.all(
      items.map(async (item, i) => {
        const lookup = lookups[i]!;
        if (lookup.entry !== undefined && lookup.entry.view === undefined) return { kind: 'none' as const };
        const charge = this.#charge(subject, sk, item.featureId, item.units, planId);
        const idempotencyKey = `${base}:${i}`;
        try {
          const allocation = await this.#write(charge.target, item.units, idempotencyKey, 0);
          charge.applied = idempotencyKey;
          this.#synced(charge.target, allocation, 0n);
          return { kind: 'applied' as const, charge, available: allocation.available };
        } catch (error) {
          if (
            error instanceof AllocationExhaustedError ||
            (isTollgateError(error) && error.code === 'TOLLGATE_EXHAUSTED')
          ) {
            const entry = lookup.entry;
            const available = (error as AllocationExhaustedError).available;
            if (entry?.view !== undefined && available !== undefined) {
              entry.view = toUnits(available) - this.#ledger.outstanding(lineKey(sk, item.featureId));
            }
            return { kind: 'exhausted' as const, available };
          }
          return { kind: 'failed' as const, charge, idempotencyKey };
        }
      }),
    );
    const failOpen = this.#config.failMode === 'open';
    outcomes.forEach((outcome, i) => {
      const decision = decisions[i]!;
      if (outcome.kind === 'applied') {
        decision.allowed = true;
        decision.reason = 'licensed';
        decision.remaining = Math.max(outcome.available, 0);
      } else if (outcome.kind === 'exhausted') {
        decision.allowed = false;
        decision.reason = 'exhausted';
        decision.remaining = outcome.available !== undefined && outcome.available > 0 ? outcome.available : 0;
      } else if (outcome.kind === 'failed') {
        decision.source = 'fallback';
        decision.ageMs = 0;
        decision.allowed = failOpen;
        decision.reason = failOpen ? 'licensed' : 'unavailable';
        delete decision.remaining;
        this.#fallback(subject, items[i]!.featureId);
      }
    });
    const allowed = decisions.every((d) => d.allowed);
    for (const outcome of outcomes) {
      if (outcome.kind === 'applied') {
        charges.push(outcome.charge);
      } else if (outcome.kind === 'failed') {
        // The decrement may or may not have landed. Replay it with the same key (applied once
        // either way); if the request is denied, refund it right after.
        const write: ExactWrite = {
          ...outcome.charge.target,
          units: outcome.charge.units,
          idempotencyKey: outcome.idempotencyKey,
          floor: 0,
        };
        outcome.charge.pending = write;
        this.#exact(write);
        charges.push(outcome.charge);
      }
    }
    for (const decision of decisions) this.#emitDecision(subject, decision);
    const reservation = new OnceReservation(this.#usageDecision(decisions, usage), false, this.#syncSettler, {
      charges,
      base,
    });
    // Denied: give back what was taken for the features that were granted.
    if (!allowed) await reservation.release();
    return reservation;
  }

  /** A write to the service now (sync mode, write-through). */
  #write(
    target: MeterTarget,
    units: bigint,
    idempotencyKey: string,
    floor: 0 | undefined,
  ): Promise<Allocation> {
    return this.#backend.run(
      'adjust',
      (signal) =>
        this.#config.provider.adjustAllocation(target.subject, target.featureId, fromUnits(units), {
          idempotencyKey,
          signal,
          ...(floor === undefined ? {} : { floor }),
          ...(target.planId === undefined ? {} : { planId: target.planId }),
        }),
      { idempotent: true },
    );
  }

  #exact(write: ExactWrite): void {
    if (this.#meter.enqueueExact(write)) {
      this.#meter.kickExact();
      return;
    }
    this.#meter.stats.usageDropped += 1;
    this.#emitter.emit('usage:dropped', {
      subject: write.subject,
      featureId: write.featureId,
      amount: fromUnits(write.units),
      reason: 'meter.maxPendingKeys reached',
    });
  }

  /** Batched commit: queue the held units; at the pending bound (or after close) write through. */
  #commit(charges: Charge[]): Promise<void> {
    // The usual batched commit only queues: finish it without an async frame (per request).
    let overflow: Charge[] | undefined;
    for (const charge of charges) {
      if (this.#queue(charge)) continue;
      overflow ??= [];
      overflow.push(charge);
    }
    return overflow === undefined ? SETTLED : this.#writeThrough(overflow);
  }

  /**
   * A commit nobody waits on (a gate's, when the response closed): queued with the others of
   * this turn once it ends. Queueing touches the meter's map and adds to its BigInt totals;
   * inside an app, done once per request between two requests' worth of the framework's
   * work, that measured ~1.7 µs (cold caches), and it is cheap in a loop over the turn's
   * commits. The units stay held in the ledger meanwhile, so no answer counts them as free.
   */
  #commitSoon(charge: Charge): void {
    if (this.#closed) {
      void this.#commit([charge]);
      return;
    }
    this.#soon.push(charge);
    if (this.#soon.length === 1) setImmediate(this.#commitNow);
  }

  /** Queues the commits of this turn (an arrow: it is the `setImmediate` callback). */
  readonly #commitNow = (): void => {
    if (this.#soon.length === 0) return;
    const charges = this.#soon;
    this.#soon = [];
    const failed = (error: unknown) =>
      this.#config.logger.error({ err: error }, 'tollgate: queueing metered usage failed unexpectedly');
    try {
      this.#commit(charges).catch(failed);
    } catch (error) {
      failed(error);
    }
  };

  /** Queues a held charge in the meter; `false` when it must be written through instead. */
  #queue(charge: Charge): boolean {
    return !this.#closed && this.#meter.record(charge.target, charge.units, charge.keys, charge.whole);
  }

  /** Charges the meter could not queue (bound reached, or closed): written to the service now. */
  async #writeThrough(charges: Charge[]): Promise<void> {
    for (const charge of charges) {
      if (!this.#closed) {
        this.#emitter.emit('meter:full', {
          subject: charge.target.subject,
          featureId: charge.target.featureId,
          pendingKeys: this.#meter.size,
        });
      }
      const idempotencyKey = randomUUID();
      const line = lineKey(charge.target.subjectKey, charge.target.featureId);
      const mark = this.#ledger.mark(line);
      try {
        const allocation = await this.#write(charge.target, charge.units, idempotencyKey, undefined);
        const meanwhile = this.#ledger.flushedSince(line, mark);
        this.#ledger.flushed(line, charge.units);
        this.#synced(charge.target, allocation, meanwhile);
      } catch {
        this.#ledger.flushedSince(line, mark);
        this.#exact({ ...charge.target, units: charge.units, idempotencyKey, held: true });
      }
    }
  }

  #releaseLocal(charges: Charge[]): void {
    for (const charge of charges) {
      const { subjectKey: sk, featureId, planId } = charge.target;
      this.#ledger.unhold(charge.keys?.line ?? lineKey(sk, featureId), charge.units);
      const entry = this.#cache.any(sk, featureId, planId);
      if (entry?.view !== undefined) entry.view += charge.units;
    }
  }

  async #releaseSync(charges: Charge[], base: string): Promise<void> {
    await Promise.all(
      charges.map(async (charge, i) => {
        const refund: ExactWrite = {
          ...charge.target,
          units: -charge.units,
          idempotencyKey: `${base}:${i}:release`,
        };
        if (charge.pending) {
          // Refund only once the replayed charge is known to have been applied.
          if (charge.pending.outcome === undefined) charge.pending.afterwards = refund;
          else if (charge.pending.outcome === 'applied') this.#exact(refund);
          return;
        }
        if (charge.applied === undefined) return;
        try {
          const allocation = await this.#write(
            charge.target,
            -charge.units,
            refund.idempotencyKey,
            undefined,
          );
          this.#synced(charge.target, allocation, 0n);
        } catch {
          this.#exact(refund);
        }
      }),
    );
  }
}

/** A granted metered feature whose local view cannot cover the units is denied as exhausted. */
function exhaust(decision: Decision, view: bigint | undefined, units: bigint): void {
  if (decision.allowed && view !== undefined && view < units) {
    decision.allowed = false;
    decision.reason = 'exhausted';
  }
}

function assertFeatureId(featureId: unknown): void {
  if (typeof featureId !== 'string' || featureId === '') {
    throw new ConfigurationError(`featureId must be a non-empty string (got ${String(featureId)}).`);
  }
}
