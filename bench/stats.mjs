// Summaries of the benchmark's per-round figures (bench/run.mjs).

/** The median of `xs` (the mean of the two middle values for an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * How far the median of `xs` could move in another run: the central `level` interval of the
 * medians of `resamples` bootstrap resamples. `groups[i]` names the process that measured
 * `xs[i]`: a process is lucky or unlucky for its whole life (JIT, heap layout), so its rounds
 * are not independent, and each resample draws processes with replacement, then rounds
 * within each drawn process. On a noisy machine a median of 15 rounds lands a few hundredths
 * either side of where the next run lands; a target inside this interval is not decided by
 * the run. The generator is seeded: the same rounds always give the same interval.
 *
 * @example
 * medianInterval([0.91, 0.95, 0.97, 0.93], [0, 1, 0, 1]); // e.g. { low: 0.92, high: 0.96 }
 */
export function medianInterval(xs, groups, { level = 0.9, resamples = 4000, seed = 1 } = {}) {
  const byGroup = new Map();
  xs.forEach((x, i) => {
    const g = groups[i];
    if (!byGroup.has(g)) byGroup.set(g, []);
    byGroup.get(g).push(x);
  });
  const clusters = [...byGroup.values()];
  const random = mulberry32(seed);
  const pick = (list) => list[Math.floor(random() * list.length)];
  const medians = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    const sample = [];
    for (let c = 0; c < clusters.length; c++) {
      const cluster = pick(clusters);
      for (let i = 0; i < cluster.length; i++) sample.push(pick(cluster));
    }
    medians[b] = median(sample);
  }
  medians.sort();
  const tail = (1 - level) / 2;
  return {
    low: medians[Math.floor(tail * (resamples - 1))],
    high: medians[Math.ceil((1 - tail) * (resamples - 1))],
  };
}

// A small seeded generator (Math.random cannot be seeded): the interval is part of a document
// the script writes, and must not change between two renderings of the same rounds.
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
