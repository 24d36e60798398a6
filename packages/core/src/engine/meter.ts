/**
 * The batched meter (modelled on unleash-node-sdk `src/metrics.ts`): usage is queued per
 * (subject, feature, plan) and flushed on an interval and at a size bound. A flush swaps the
 * queued units out into a batch with its own idempotency key; on failure the batch stays, with
 * the same key, and is sent again after a backoff, so a flush whose answer was lost is counted
 * once. 401/403 stop the timer (an explicit `flush()` or `close()` tries again). `record` never
 * throws. Timers are `unref()`ed.
 *
 * With a provider that has `adjustAllocations` (our service's batch endpoint), one request
 * carries the batches of up to 100 keys, each still with its own idempotency key; without it,
 * or once the service turns the batch call down, each key goes in its own request.
 *
 * It also runs "exact writes": single adjustments that must reach the service exactly once
 * with a fixed key (sync-mode repairs and refunds), retried in order, never merged.
 */
import { randomUUID } from 'node:crypto';
import { AllocationExhaustedError, type HttpError, hasErrorCode, isTollgateError } from '../errors.js';
import type { Allocation, AllocationAdjustment, Subject } from '../types.js';
import { fromUnits, SCALE, toUnits } from './amount.js';
import { type Backend, isServiceFailure } from './backend.js';
import type { ChargeKeys } from './decision-cache.js';
import type { Emitter } from './events.js';
import type { Ledger } from './ledger.js';
import type { Config } from './options.js';
import { addWhole, readUnits, type SplitUnits, writeUnits } from './split-units.js';

const SEP = '\u0000';
/** Keys per `adjustAllocations` call: small enough to answer well within one call's timeout. */
const BATCH_SIZE = 100;
/** Calls in flight at once: a backlog after an outage must not open thousands of sockets. */
const CONCURRENCY = 8;

/** Where the service's answer after a write is sent, to refresh the local view. */
export type SyncListener = (target: MeterTarget, available: Allocation, flushedMeanwhile: bigint) => void;

export interface MeterTarget {
  subject: Subject;
  subjectKey: string;
  featureId: string;
  planId: string | undefined;
}

/** One key's usage waiting to be sent. */
class Pending implements MeterTarget, SplitUnits {
  /** Set once the meter dropped it: a reference kept elsewhere must look the key up again. */
  dropped = false;
  subject: Subject;
  subjectKey: string;
  featureId: string;
  planId: string | undefined;
  /** Queued units (below) in whole units while they are whole; NaN otherwise. */
  whole = 0;
  /** Queued nano-units when `whole` is NaN. */
  nano: bigint | undefined = 0n;
  batch: { units: bigint; idempotencyKey: string } | undefined = undefined;
  inflight: Promise<boolean> | undefined = undefined;

  constructor(target: MeterTarget) {
    this.subject = target.subject;
    this.subjectKey = target.subjectKey;
    this.featureId = target.featureId;
    this.planId = target.planId;
  }

  /** Units recorded and not yet taken into a batch. */
  get queued(): bigint {
    return readUnits(this) ?? 0n;
  }

  set queued(units: bigint) {
    writeUnits(this, units);
  }
}

/** A key's queue in the meter, as a charge's keys keep it (see {@link ChargeKeys}). */
export type MeterQueue = Pending;

/** One adjustment that must be applied exactly once, with this key. */
export interface ExactWrite extends MeterTarget {
  units: bigint;
  idempotencyKey: string;
  floor?: 0;
  /** Runs after this write is applied (not if the service refused it as exhausted). */
  afterwards?: ExactWrite;
  /** In the ledger: give the units back when the write is settled. */
  held?: boolean;
  /** Set by the meter once settled: applied at the service, or refused for good. */
  outcome?: 'applied' | 'refused';
}

/**
 * The ledger key of a (subject, feature).
 *
 * @example
 * lineKey('e:u1', 'sms');
 */
export const lineKey = (subjectKey: string, featureId: string) => `${subjectKey}${SEP}${featureId}`;

/**
 * The ledger and meter keys of a target. Cache entries keep theirs (`CacheEntry.keys`), so a
 * metered request does not build and hash the same strings again, nor make a target.
 *
 * @example
 * chargeKeys({ subject, subjectKey: 'e:u1', featureId: 'sms', planId: undefined }).line; // 'e:u1\u0000sms'
 */
export function chargeKeys(target: MeterTarget): ChargeKeys {
  const line = lineKey(target.subjectKey, target.featureId);
  return {
    line,
    meter: `${line}${SEP}${target.planId ?? ''}`,
    target,
    ledgerLine: undefined,
    queue: undefined,
  };
}

const authFailure = (error: unknown) =>
  isTollgateError(error) &&
  error.code === 'TOLLGATE_HTTP' &&
  [401, 403].includes((error as HttpError).status);

/**
 * The batched usage queue and the exact-write queue.
 *
 * @example
 * meter.record({ subject, subjectKey: 'e:u1', featureId: 'sms', planId: undefined }, 1_000_000_000n);
 */
export class Meter {
  readonly #pending = new Map<string, Pending>();
  #exact: ExactWrite[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #failures = 0;
  #skip = 0;
  #stopped = false;
  #ticking = false;
  #exactRunning: Promise<void> | undefined;
  #deadline: number | undefined;
  /** Set when the provider's batch call is missing or refused: one key per request from then on. */
  #batchOff = false;
  /** Keys over the size bound, sent together at the end of this turn of the event loop. */
  readonly #due = new Set<Pending>();
  #dueScheduled = false;
  readonly stats = { usageDropped: 0, flushOk: 0, flushFailed: 0 };
  /** `maxBatchSize` in nano-units, and in whole units rounded up (for a whole queue: the same test). */
  readonly #maxBatchUnits: bigint;
  readonly #maxBatchWhole: number;

  constructor(
    private readonly config: Config,
    private readonly backend: Backend,
    private readonly emitter: Emitter,
    private readonly ledger: Ledger,
    private readonly onSync: SyncListener,
  ) {
    this.#maxBatchUnits = toUnits(config.meter.maxBatchSize);
    this.#maxBatchWhole = Number((this.#maxBatchUnits + SCALE - 1n) / SCALE);
  }

  get size(): number {
    return this.#pending.size + this.#exact.length;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#tick(), this.config.meter.flushIntervalMs);
    this.#timer.unref?.();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Queues usage the ledger already holds. Returns `false` (and queues nothing) when
   * `maxPendingKeys` is reached and this is a new key: the caller then writes through.
   * `keys`: the target's keys (a cache entry's), where the key's queue is kept, so the next
   * charge of the key skips the map lookup while the queue is in use. `whole`: the units in
   * whole units, or NaN (see split-units.ts).
   */
  record(target: MeterTarget, units: bigint, keys = chargeKeys(target), whole = Number.NaN): boolean {
    let pending = keys.queue;
    if (pending === undefined || pending.dropped) {
      pending = this.#pending.get(keys.meter);
      if (!pending) {
        if (this.size >= this.config.meter.maxPendingKeys) return false;
        pending = new Pending(target);
        this.#pending.set(keys.meter, pending);
      }
      keys.queue = pending;
    }
    // Whole units (`whole`, a number, the usual charge) are added without a bigint.
    if (!Number.isNaN(whole)) addWhole(pending, whole);
    else pending.queued += units;
    const full = Number.isNaN(pending.whole)
      ? pending.queued >= this.#maxBatchUnits
      : pending.whole >= this.#maxBatchWhole;
    if (full && !pending.inflight && !this.#stopped && this.#skip === 0) {
      if (this.#batching()) this.#flushSoon(pending);
      else {
        this.#drain(keys.meter, pending, 1).catch((error: unknown) =>
          this.config.logger.error({ err: error }, 'tollgate: a usage flush failed unexpectedly'),
        );
      }
    }
    return true;
  }

  /** Drops a key's empty queue. */
  #forget(key: string, pending: Pending): void {
    this.#pending.delete(key);
    pending.dropped = true;
  }

  /** Queues an exact write; `false` if the bound is reached (the caller reports the drop). */
  enqueueExact(write: ExactWrite): boolean {
    if (this.size >= this.config.meter.maxPendingKeys) return false;
    this.#exact.push(write);
    return true;
  }

  /** Sends queued exact writes now, unless flushing is stopped or backing off (the timer retries). */
  kickExact(): void {
    if (this.#stopped || this.#skip > 0) return;
    this.#runExact().catch((error: unknown) =>
      this.config.logger.error({ err: error }, 'tollgate: a usage write failed unexpectedly'),
    );
  }

  /** Sends everything pending now. Also restarts flushing stopped by a 401/403. */
  async flush(): Promise<void> {
    this.#stopped = false;
    await this.#flushAll();
  }

  /**
   * Keeps flushing until nothing is pending or `deadline` passes. The deadline is wall-clock
   * time (`Date.now()`, which fake timers drive), not the injected clock: it bounds how long
   * `close()` really waits, and a frozen test clock must not make it wait forever. Each call
   * made meanwhile gets at most the time left.
   */
  async drain(deadline: number, pause: number): Promise<void> {
    this.#stopped = false;
    this.#deadline = deadline;
    try {
      while (this.size > 0 && Date.now() < deadline) {
        await this.#flushAll();
        if (this.size === 0 || Date.now() >= deadline) return;
        const wait = Math.min(pause, deadline - Date.now());
        await new Promise((resolve) => {
          const t = setTimeout(resolve, Math.max(1, wait));
          t.unref?.();
        });
      }
    } finally {
      this.#deadline = undefined;
    }
  }

  /** Per-call options while draining: the budget shrinks to the time left before the deadline. */
  #budget(): { idempotent: true; timeoutMs?: number } {
    if (this.#deadline === undefined) return { idempotent: true };
    return {
      idempotent: true,
      timeoutMs: Math.max(1, Math.min(this.config.timeoutMs, this.#deadline - Date.now())),
    };
  }

  /** Gives up on everything still pending, reporting each as dropped. */
  dropAll(reason: string): void {
    for (const pending of this.#pending.values()) {
      const units = pending.queued + (pending.batch?.units ?? 0n);
      if (units > 0n) this.#dropped(pending, units, reason);
      pending.dropped = true;
    }
    this.#pending.clear();
    for (const write of this.#exact) this.#dropped(write, write.units, reason);
    this.#exact = [];
  }

  #tick(): void {
    if (this.#stopped || this.#ticking) return;
    if (this.#skip > 0) {
      this.#skip -= 1;
      return;
    }
    this.#ticking = true;
    // One send per key per tick: under steady traffic a key always has more queued by the time
    // its flush returns, and chasing it would triple the writes (the next tick takes it).
    this.#flushAll(1)
      .catch((error: unknown) =>
        this.config.logger.error({ err: error }, 'tollgate: a usage flush failed unexpectedly'),
      )
      .finally(() => {
        this.#ticking = false;
      });
  }

  async #flushAll(sendsPerKey = 3): Promise<void> {
    if (this.#batching()) await this.#flushBatched(sendsPerKey);
    // Also when batching was just found not to work: the same batches go one by one, same keys.
    if (!this.#batching()) await this.#flushEach(sendsPerKey);
    await this.#runExact();
  }

  /** Whether flushes go through the provider's `adjustAllocations` (many keys per request). */
  #batching(): boolean {
    return !this.#batchOff && this.config.provider.adjustAllocations !== undefined;
  }

  /** Keys over the size bound wait for the end of this turn of the event loop, then go together. */
  #flushSoon(pending: Pending): void {
    this.#due.add(pending);
    if (this.#dueScheduled) return;
    this.#dueScheduled = true;
    setImmediate(() => {
      this.#dueScheduled = false;
      const due = [...this.#due].filter((p) => !p.inflight && (p.batch || p.queued > 0n));
      this.#due.clear();
      if (due.length === 0 || this.#stopped || this.#skip > 0 || !this.#batching()) return;
      this.#sendBatches(due).catch((error: unknown) =>
        this.config.logger.error({ err: error }, 'tollgate: a usage flush failed unexpectedly'),
      );
    }).unref?.();
  }

  /**
   * Flushes every key through `adjustAllocations`, a round at a time: a round sends what each
   * key has (a batch being retried first, as one send), then waits for keys another flush is
   * sending. Stops at the first round that fails; the timer tries again.
   */
  async #flushBatched(rounds: number): Promise<void> {
    for (let round = 0; round < rounds; round++) {
      const ready: Pending[] = [];
      const busy: Promise<boolean>[] = [];
      for (const [key, pending] of this.#pending) {
        if (pending.inflight) busy.push(pending.inflight);
        else if (pending.batch || pending.queued > 0n) ready.push(pending);
        else this.#forget(key, pending);
      }
      if (ready.length === 0 && busy.length === 0) return;
      if (ready.length > 0 && !(await this.#sendBatches(ready))) return;
      await Promise.all(busy);
    }
  }

  /** `pending` in calls of at most BATCH_SIZE, a few at a time; `false` if any call failed. */
  async #sendBatches(pending: Pending[]): Promise<boolean> {
    const calls: Pending[][] = [];
    for (let i = 0; i < pending.length; i += BATCH_SIZE) calls.push(pending.slice(i, i + BATCH_SIZE));
    let next = 0;
    let ok = true;
    const worker = async () => {
      while (next < calls.length && ok && this.#batching()) {
        if (!(await this.#sendBatch(calls[next++]!))) ok = false;
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, calls.length) }, worker));
    return ok && next === calls.length;
  }

  /**
   * One `adjustAllocations` call for these keys, each with its batch and idempotency key (kept
   * on failure, so a call whose answer was lost is counted once when sent again, alone or not).
   * Resolves `false` when the call as a whole failed.
   */
  #sendBatch(pending: Pending[]): Promise<boolean> {
    const sent = pending.map((p) => {
      if (!p.batch) {
        p.batch = { units: p.queued, idempotencyKey: randomUUID() };
        p.queued = 0n;
      }
      const line = lineKey(p.subjectKey, p.featureId);
      return { pending: p, batch: p.batch, line, mark: this.ledger.mark(line) };
    });
    const adjustments = sent.map(
      ({ pending: p, batch }): AllocationAdjustment => ({
        subject: p.subject,
        featureId: p.featureId,
        usage: fromUnits(batch.units),
        idempotencyKey: batch.idempotencyKey,
        ...(p.planId === undefined ? {} : { planId: p.planId }),
      }),
    );
    const call = this.backend.run(
      'flush',
      (signal) => this.config.provider.adjustAllocations!(adjustments, { signal }),
      this.#budget(),
    );
    const done = call.then(
      (outcomes) => {
        let backOff = false;
        for (let i = 0; i < sent.length; i++) {
          const { pending: p, batch, line, mark } = sent[i]!;
          const outcome = outcomes[i]!;
          const meanwhile = this.ledger.flushedSince(line, mark);
          if (outcome.ok) this.#flushed(p, batch.units, line, outcome.allocation, meanwhile);
          else if (!this.#failed(p, batch.units, outcome.error, () => this.#giveUp(p, line), false)) {
            backOff ||= isServiceFailure(outcome.error);
          }
        }
        if (backOff) this.#backOff();
        return true;
      },
      (error: unknown) => {
        for (const { line, mark } of sent) this.ledger.flushedSince(line, mark);
        if (authFailure(error) || isServiceFailure(error)) {
          for (const { pending: p, batch } of sent) this.#failed(p, batch.units, error, () => {}, false);
          if (isServiceFailure(error)) this.#backOff();
        } else {
          // Not a verdict on any one adjustment (no batch endpoint, or it refused the call as a
          // whole): send them one by one from now on, where each gets its own answer.
          this.#batchOff = true;
          if (!hasErrorCode(error, 'TOLLGATE_UNSUPPORTED')) {
            this.config.logger.error(
              { err: error },
              'tollgate: the batch endpoint refused a usage flush; flushing one key per request from now on',
            );
          }
        }
        return false;
      },
    );
    // What other flushes of these keys wait for: never rejects (`done`'s callers see the error).
    const inflight = done
      .catch(() => false)
      .finally(() => {
        for (const { pending: p } of sent) if (p.inflight === inflight) p.inflight = undefined;
      });
    for (const { pending: p } of sent) p.inflight = inflight;
    return done;
  }

  /** The flushes of one key at a time, when the provider has no batch call. */
  async #flushEach(sendsPerKey: number): Promise<void> {
    const keys = [...this.#pending.entries()];
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const [key, pending] = keys[next++]!;
        await this.#drain(key, pending, sendsPerKey);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, keys.length) }, worker));
  }

  /**
   * Flushes one key until it is empty or a flush fails, in at most a few sends: a key that keeps
   * receiving usage must not keep one `flush()` (or one tick) busy forever; the rest goes next time.
   */
  async #drain(key: string, pending: Pending, maxSends: number): Promise<void> {
    // A batch being retried, then what was queued meanwhile, then what arrived during that.
    for (let sends = 0; sends < maxSends; ) {
      if (pending.inflight) {
        await pending.inflight;
        continue;
      }
      if (!pending.batch && pending.queued === 0n) {
        if (this.#pending.get(key) === pending) this.#forget(key, pending);
        return;
      }
      // A batch being retried is not counted: what was queued before it still goes now.
      if (!pending.batch) sends += 1;
      pending.inflight = this.#send(pending).finally(() => {
        pending.inflight = undefined;
      });
      if (!(await pending.inflight)) return;
    }
  }

  /** One flush of one key. Resolves `true` when the batch is settled, `false` to retry later. */
  async #send(pending: Pending): Promise<boolean> {
    if (!pending.batch) {
      pending.batch = { units: pending.queued, idempotencyKey: randomUUID() };
      pending.queued = 0n;
    }
    const { units, idempotencyKey } = pending.batch;
    const line = lineKey(pending.subjectKey, pending.featureId);
    const mark = this.ledger.mark(line);
    const amount = fromUnits(units);
    try {
      const allocation = await this.backend.run(
        'flush',
        (signal) =>
          this.config.provider.adjustAllocation(pending.subject, pending.featureId, amount, {
            idempotencyKey,
            signal,
            ...(pending.planId === undefined ? {} : { planId: pending.planId }),
          }),
        this.#budget(),
      );
      const meanwhile = this.ledger.flushedSince(line, mark);
      this.#flushed(pending, units, line, allocation, meanwhile);
      return true;
    } catch (error) {
      this.ledger.flushedSince(line, mark);
      return this.#failed(pending, units, error, () => this.#giveUp(pending, line));
    }
  }

  /** A key's batch reached the service: the ledger and the local view learn it. */
  #flushed(pending: Pending, units: bigint, line: string, allocation: Allocation, meanwhile: bigint): void {
    pending.batch = undefined;
    this.ledger.flushed(line, units);
    this.#failures = 0;
    this.stats.flushOk += 1;
    this.emitter.emit('flush:ok', {
      subject: pending.subject,
      featureId: pending.featureId,
      amount: fromUnits(units),
    });
    this.onSync(pending, allocation, meanwhile);
  }

  /** A key's batch the service refused for good: its units are no longer outstanding. */
  #giveUp(pending: Pending, line: string): void {
    const units = pending.batch?.units ?? 0n;
    pending.batch = undefined;
    this.ledger.unhold(line, units);
  }

  /** Skips ticks after a service failure, longer each time in a row (up to 10). */
  #backOff(): void {
    this.#failures = Math.min(this.#failures + 1, 10);
    this.#skip = this.#failures;
  }

  /**
   * Decides what a failed write means: retry later (false), or give up and move on (true).
   * `backOff` false: the caller backs off once for several failures of one call.
   */
  #failed(target: MeterTarget, units: bigint, error: unknown, giveUp: () => void, backOff = true): boolean {
    const amount = fromUnits(units);
    this.stats.flushFailed += 1;
    const base = { subject: target.subject, featureId: target.featureId, amount, error };
    if (authFailure(error)) {
      const wasStopped = this.#stopped;
      this.#stopped = true;
      this.emitter.emit('flush:failed', { ...base, willRetry: false });
      // Once per stop, not once per key of a failed batch.
      if (!wasStopped) {
        this.config.logger.error(
          { err: error, featureId: target.featureId },
          'tollgate: the service rejected our credentials; usage flushing is stopped until flush() or close() is called. Check apiKey/apiSecret.',
        );
      }
      return false;
    }
    if (isServiceFailure(error)) {
      if (backOff) this.#backOff();
      this.emitter.emit('flush:failed', { ...base, willRetry: true });
      return false;
    }
    // A definite refusal (no licence any more, a rejected amount): retrying cannot succeed.
    this.emitter.emit('flush:failed', { ...base, willRetry: false });
    giveUp();
    this.#dropped(
      target,
      units,
      `rejected by the service: ${error instanceof Error ? error.message : String(error)}`,
    );
    return true;
  }

  #dropped(target: MeterTarget, units: bigint, reason: string): void {
    this.stats.usageDropped += 1;
    const amount = fromUnits(units);
    this.config.logger.error(
      { featureId: target.featureId, amount, reason },
      'tollgate: usage could not be recorded and was dropped',
    );
    this.emitter.emit('usage:dropped', {
      subject: target.subject,
      featureId: target.featureId,
      amount,
      reason,
    });
  }

  async #runExact(): Promise<void> {
    if (this.#exactRunning) return this.#exactRunning;
    this.#exactRunning = (async () => {
      while (this.#exact.length > 0) {
        const write = this.#exact[0]!;
        if (!(await this.#sendExact(write))) return;
        this.#exact.shift();
        if (write.afterwards) this.#exact.unshift(write.afterwards);
      }
    })().finally(() => {
      this.#exactRunning = undefined;
    });
    return this.#exactRunning;
  }

  /** `true` when settled (applied, or refused for good), `false` to retry later. */
  async #sendExact(write: ExactWrite): Promise<boolean> {
    const line = lineKey(write.subjectKey, write.featureId);
    try {
      await this.backend.run(
        'adjust',
        (signal) =>
          this.config.provider.adjustAllocation(write.subject, write.featureId, fromUnits(write.units), {
            idempotencyKey: write.idempotencyKey,
            signal,
            ...(write.floor === undefined ? {} : { floor: write.floor }),
            ...(write.planId === undefined ? {} : { planId: write.planId }),
          }),
        this.#budget(),
      );
      if (write.held) this.ledger.flushed(line, write.units);
      write.outcome = 'applied';
      this.stats.flushOk += 1;
      return true;
    } catch (error) {
      if (
        error instanceof AllocationExhaustedError ||
        (isTollgateError(error) && error.code === 'TOLLGATE_EXHAUSTED')
      ) {
        // Not applied, and nothing that depends on it must run: the refund after a charge that
        // never happened would give away units.
        delete write.afterwards;
        write.outcome = 'refused';
        if (write.held) {
          this.ledger.unhold(line, write.units);
          this.#dropped(write, write.units, 'allocation exhausted when the charge reached the service');
        }
        return true;
      }
      return this.#failed(write, write.units, error, () => {
        delete write.afterwards;
        write.outcome = 'refused';
        if (write.held) this.ledger.unhold(line, write.units);
      });
    }
  }
}
