import { afterEach, describe, expect, it, vi } from 'vitest';
import { memoryProvider } from '../testing/memory-provider.js';
import { createTollgate } from './create-tollgate.js';
import { monotonicWallClock, systemClock } from './system-clock.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('the wall clock read through a monotonic one', () => {
  /** Both sources driven by hand: `wall` in epoch ms (fractional, as the true time is). */
  const sources = (wall: number, monotonic: number) => {
    const s = { wall, monotonic };
    const clock = monotonicWallClock(
      () => Math.floor(s.wall),
      () => s.monotonic,
    );
    const advance = (ms: number) => {
      s.wall += ms;
      s.monotonic += ms;
    };
    return { s, clock, advance };
  };

  it('gives the wall time in whole ms and moves with the monotonic clock', () => {
    const { clock, advance } = sources(1_767_225_600_000.4, 52.25);
    expect(clock.now()).toBe(1_767_225_600_000);
    advance(10.25);
    expect(clock.now()).toBe(1_767_225_600_010);
    advance(999.5);
    // 1009.75 ms after a start read as …000: a ms behind the wall clock's own …601_010.4
    // rounded down, which is rounding, not a step.
    expect(clock.now()).toBe(1_767_225_601_009);
  });

  it('follows a step of the wall clock within a second, and only then', () => {
    const { s, clock, advance } = sources(1_767_225_600_000, 0);
    s.wall += 60_000; // NTP sets the clock a minute ahead
    advance(500);
    expect(clock.now()).toBe(1_767_225_600_500);
    advance(500);
    expect(clock.now()).toBe(1_767_225_661_000);
    advance(1);
    expect(clock.now()).toBe(1_767_225_661_001);
  });

  it('follows a step back too', () => {
    const { s, clock, advance } = sources(1_767_225_600_000, 0);
    s.wall -= 3_600_000;
    advance(1_000);
    expect(clock.now()).toBe(1_767_222_001_000);
  });

  it('never goes back for the rounding of the wall clock', () => {
    // The wall clock read at the start was 0.9 ms below the true time: later reads of it are
    // up to a ms ahead of the clock's, which must not count as a step.
    const { clock, advance } = sources(1_767_225_600_000.9, 0);
    let last = clock.now();
    for (let i = 0; i < 5_000; i++) {
      advance(0.7);
      const now = clock.now();
      expect(now).toBeGreaterThanOrEqual(last);
      last = now;
    }
  });
});

describe('systemClock', () => {
  it('reads what Date.now() reads, to the ms, and never goes back', () => {
    // How far the wall clock has moved against the monotonic one since the start: NTP (or a
    // VM's clock catching up) can slew it by several ms a second, which the clock follows only
    // at its next comparison (at most a second later).
    const gap = () => Date.now() - performance.now();
    const startGap = gap();
    const clock = systemClock();
    let last = clock.now();
    for (let i = 0; i < 20_000; i++) {
      const before = Date.now();
      const now = clock.now();
      const after = Date.now();
      const slew = Math.ceil(Math.abs(gap() - startGap));
      // One ms of rounding between the two clocks at most (see monotonicWallClock), and the slew
      // (read through Date.now()'s whole ms, so within a ms: 0 or 1 where the clocks agree).
      expect(now).toBeGreaterThanOrEqual(before - 1 - slew);
      expect(now).toBeLessThanOrEqual(after + slew);
      expect(now).toBeGreaterThanOrEqual(last);
      last = now;
    }
  });

  it('is Date.now() itself under fake timers, so setting the system time shows at once', () => {
    const clock = systemClock();
    clock.now(); // made with real timers first
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    expect(clock.now()).toBe(Date.parse('2026-01-01T00:00:00Z'));
    vi.setSystemTime(new Date('2030-06-01T00:00:00Z'));
    expect(clock.now()).toBe(Date.parse('2030-06-01T00:00:00Z'));
    vi.advanceTimersByTime(1_500);
    expect(clock.now()).toBe(Date.parse('2030-06-01T00:00:01.500Z'));
    vi.useRealTimers();
    // Back on the real clocks, not on an offset taken from the fake ones.
    expect(Math.abs(clock.now() - Date.now())).toBeLessThanOrEqual(1);
  });

  it("is the engine's clock when none is given: a licence that ends is seen ended at once under fake timers", async () => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    const provider = memoryProvider({
      plans: [{ id: 'pro', name: 'Pro', features: { reports: true } }],
      licenses: [
        {
          subject: { externalUserId: 'u1' },
          planId: 'pro',
          expiresAt: new Date('2026-01-02T00:00:00Z'),
        },
      ],
    });
    const tollgate = createTollgate({ provider, cache: { ttlMs: 3_600_000 } });
    try {
      expect((await tollgate.check({ externalUserId: 'u1' }, 'reports')).allowed).toBe(true);
      vi.setSystemTime(new Date('2026-01-02T00:00:01Z'));
      // The cached answer is capped at the licence's end: a cached check has none left.
      expect(tollgate.checkCached({ externalUserId: 'u1' }, 'reports')).toBeUndefined();
    } finally {
      await tollgate.close({ timeoutMs: 0 });
    }
  });
});
