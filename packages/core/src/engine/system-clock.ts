/**
 * The default clock: the wall clock in integer milliseconds, as `Date.now()` gives it, read
 * through the monotonic `performance.now()`.
 *
 * Why: a cached check reads the clock once per request, and inside a busy app (caches cold
 * from the framework's own work) `Date.now()` measured ~0.9 µs over a middleware that only
 * calls `next()`, against ~0.5 µs for `performance.now()` (a Koa app, each timed as its
 * request's excess over bare); a loop shows ~60 ns for either. On a bare Koa request of ~40 µs
 * of CPU the difference is 1%.
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

/**
 * The clock `createTollgate` uses when given none: `Date.now()`, read as described above.
 *
 * @example
 * const clock = systemClock();
 * clock.now(); // ≈ Date.now()
 */
export function systemClock(): Clock {
  // Made on the first read with real timers, and again after any read under fake ones: an
  // offset taken from fake clocks would be wrong once they are gone.
  let clock: Clock | undefined;
  return {
    now() {
      if (Date.now === nativeDateNow && performance.now === nativePerformanceNow) {
        clock ??= monotonicWallClock(readWall, readMonotonic);
        return clock.now();
      }
      clock = undefined;
      return Date.now();
    },
  };
}

const readWall = (): number => Date.now();
const readMonotonic = (): number => performance.now();
