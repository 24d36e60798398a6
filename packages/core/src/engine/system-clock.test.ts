import { afterEach, describe, expect, it, vi } from 'vitest';
import { memoryProvider } from '../testing/memory-provider.js';
import { createTollgate } from './create-tollgate.js';
import {
  heldPerTurn,
  MAX_HELD_READS,
  monotonicWallClock,
  releaseAfterTurn,
  systemClock,
} from './system-clock.js';

/** Lets the current turn of the event loop end (its check phase runs). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Spins for `ms` without yielding: a turn that runs long. */
const spin = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
};

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

describe('a clock held for a turn', () => {
  /** A source that moves by a ms per read, and a turn ended by hand. */
  const driven = (maxReads?: number) => {
    let time = 1_767_225_600_000;
    const releases: Array<() => void> = [];
    const clock = heldPerTurn(
      () => time++,
      (release) => releases.push(release),
      maxReads,
    );
    const endTurn = () => {
      for (const release of releases.splice(0)) release();
    };
    return { clock, endTurn, releases };
  };

  it('serves one reading until the turn ends, and reads again after', () => {
    const { clock, endTurn, releases } = driven();
    expect(clock.now()).toBe(1_767_225_600_000);
    expect(clock.now()).toBe(1_767_225_600_000);
    expect(releases).toHaveLength(1);
    endTurn();
    expect(clock.now()).toBe(1_767_225_600_001);
    expect(clock.now()).toBe(1_767_225_600_001);
  });

  it('reads again after maxReads reads in a turn that does not end, and schedules one release', () => {
    const { clock, releases } = driven(3);
    const reads = Array.from({ length: 7 }, () => clock.now());
    expect(reads).toEqual([0, 0, 0, 1, 1, 1, 2].map((d) => 1_767_225_600_000 + d));
    expect(releases).toHaveLength(1);
  });

  it('ends the hold with an unreferenced immediate, so a read in beforeExit lets the process exit', () => {
    const immediate = releaseAfterTurn(() => {});
    expect(immediate.hasRef()).toBe(false);
  });
});

describe('systemClock', () => {
  it("reads what Date.now() reads, to the ms, at a turn's first read, and never goes back", async () => {
    // How far the wall clock has moved against the monotonic one since the start: NTP (or a
    // VM's clock catching up) can slew it by several ms a second, which the clock follows only
    // at its next comparison (at most a second later).
    const gap = () => Date.now() - performance.now();
    const startGap = gap();
    const clock = systemClock();
    let last = clock.now();
    for (let i = 0; i < 2_000; i++) {
      await nextTurn();
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

  it('holds its reading through a turn, and moves on with the next', async () => {
    const clock = systemClock();
    await nextTurn();
    const first = clock.now();
    spin(5);
    expect(clock.now()).toBe(first);
    await nextTurn();
    expect(clock.now()).toBeGreaterThanOrEqual(first + 5);
  });

  it('moves in a turn that never ends, after MAX_HELD_READS reads', () => {
    const clock = systemClock();
    const first = clock.now();
    spin(3);
    const reads = Array.from({ length: MAX_HELD_READS + 1 }, () => clock.now());
    expect(reads.at(-1)).toBeGreaterThanOrEqual(first + 3);
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
