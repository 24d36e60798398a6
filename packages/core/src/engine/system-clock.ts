/**
 * The default clock: the wall clock in integer milliseconds, as `Date.now()` gives it, read
 * through the monotonic `performance.now()`, and read once per turn of the event loop.
 *
 * Why once per turn: a cached check reads the clock once per request, and inside a busy app
 * (caches cold from the framework's own work) a read costs far more than in a loop: ~0.9 µs
 * for `Date.now()` and ~0.5 µs for `performance.now()` over a middleware that only calls
 * `next()`, against ~60 ns for either in a loop (a Koa app, each timed as its request's excess
 * over bare). On a bare Koa request of ~40 µs of CPU that is 1–2%. Under load, one turn of the
 * loop answers many requests (every connection whose request has arrived), and they share one
 * reading: this is what libuv does for its timers, whose "now" is the time the turn began.
 * Measured in one Koa process that switches its gate every few seconds (so both meet the same
 * drift, heap and JIT): the gate cost 3.1 µs a request over a middleware that only calls
 * `next()` with the time held, against 4.7 µs with a read per request; 2.5 against 3.0–3.3 µs
 * in an earlier run with a prototype of the hold.
 *
 * What holding costs in accuracy: a reading is at most one turn old, so a turn that runs long
 * (synchronous work of its own) sees entries as fresh and ages as younger by up to that turn's
 * length, as its timers fire late by as much. Code that never yields (a loop of awaits on
 * settled promises) still sees the time move: a reading serves {@link MAX_HELD_READS} reads at
 * most.
 *
 * The offset between the two clocks is taken when the clock is made and compared with
 * `Date.now()` at most once a second: a step of the wall clock (NTP, by hand) of 2 ms or more
 * is followed within a second. Slewing does not separate them: it changes the rate of both.
 * Between two comparisons the time never goes back.
 *
 * Under fake timers (`Date` or `performance` replaced, as `vi.useFakeTimers()` and
 * `@sinonjs/fake-timers` do) every read is `Date.now()` itself, so a test that sets the system
 * time sees it at once.
 */
import { setImmediate as nativeSetImmediate } from 'node:timers';
import type { Clock } from './types.js';

const nativeDateNow = Date.now;
const nativePerformanceNow = performance.now;

/** How often, in monotonic ms, the offset is compared with the wall clock. */
const RECHECK_MS = 1000;
/** A difference this large (ms) is a step of the wall clock, not rounding. */
const STEP_MS = 2;

/**
 * The wall clock from `wall` (epoch ms) and `monotonic` (ms from any origin), read through
 * `monotonic`; exported for tests, which drive both by hand.
 *
 * @example
 * const clock = monotonicWallClock(() => Date.now(), () => performance.now());
 * clock.now(); // e.g. 1796083200000
 */
export function monotonicWallClock(wall: () => number, monotonic: () => number): Clock {
  let checkedAt = monotonic();
  let offset = wall() - checkedAt;
  return {
    now() {
      const elapsed = monotonic();
      let time = Math.floor(offset + elapsed);
      if (elapsed - checkedAt >= RECHECK_MS) {
        checkedAt = elapsed;
        const actual = wall();
        if (Math.abs(actual - time) >= STEP_MS) {
          offset = actual - elapsed;
          time = actual;
        }
      }
      return time;
    },
  };
}

/** How many reads one reading serves at most, within a turn that does not end. */
export const MAX_HELD_READS = 64;

/**
 * A clock that reads `read` once and serves that reading until `release` is called, which
 * `schedule` arranges for the end of the turn (or for `maxReads` reads); exported for tests,
 * which schedule by hand.
 *
 * @example
 * const clock = heldPerTurn(() => Date.now(), releaseAfterTurn);
 * clock.now() === clock.now(); // true: the same turn
 */
export function heldPerTurn(
  read: () => number,
  schedule: (release: () => void) => void,
  maxReads = MAX_HELD_READS,
): Clock {
  let held = 0;
  let left = 0;
  let scheduled = false;
  const release = (): void => {
    left = 0;
    scheduled = false;
  };
  return {
    now() {
      if (left > 0) {
        left -= 1;
        return held;
      }
      held = read();
      left = maxReads - 1;
      if (!scheduled) {
        scheduled = true;
        schedule(release);
      }
      return held;
    },
  };
}

/**
 * Calls `release` in the check phase of this turn of the loop, or the next. Unreferenced: a
 * clock read in a `beforeExit` listener must not keep the loop going, or the listener would run
 * again, read again, and never let the process exit.
 *
 * @example
 * releaseAfterTurn(() => console.log('the turn is over'));
 */
export function releaseAfterTurn(release: () => void): NodeJS.Immediate {
  return nativeSetImmediate(release).unref();
}

/**
 * The clock `createTollgate` uses when given none: `Date.now()`, read as described above.
 *
 * @example
 * const clock = systemClock();
 * clock.now(); // ≈ Date.now()
 */
export function systemClock(): Clock {
  // Made on the first read with real timers, and again after any read under fake ones: an
  // offset taken, or a reading held, from fake clocks would be wrong once they are gone, and
  // a reading held from the real ones must not be served under fake ones.
  let wall: Clock | undefined;
  let turn: Clock | undefined;
  const read = (): number => {
    if (performance.now === nativePerformanceNow) {
      wall ??= monotonicWallClock(readWall, readMonotonic);
      return wall.now();
    }
    wall = undefined;
    return Date.now();
  };
  return {
    now() {
      // Only `Date` is compared on every read: `performance` is a getter on the global object,
      // and faking it alone leaves `Date.now()`, what a fresh read would give, as it was.
      if (Date.now === nativeDateNow) {
        turn ??= heldPerTurn(read, releaseAfterTurn);
        return turn.now();
      }
      wall = undefined;
      turn = undefined;
      return Date.now();
    },
  };
}

const readWall = (): number => Date.now();
const readMonotonic = (): number => performance.now();
