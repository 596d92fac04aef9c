/**
 * The statistics the waiting room's fairness is judged by (tests and `pnpm bench`): how far the
 * admission order follows the join order. Small enough to write out; a statistics package would
 * bring far more than two formulas.
 */

/** Ranks 0..n-1 of the values (all distinct here: positions in two orders). */
function ranks(values: number[]): number[] {
  const order = values.map((value, i) => [value, i] as const).sort((a, b) => a[0] - b[0]);
  const result = new Array<number>(values.length);
  order.forEach(([, i], rank) => {
    result[i] = rank;
  });
  return result;
}

/**
 * Spearman's rank correlation of two orders of the same items: 1 when the second follows the first
 * (first come, first served), -1 when it reverses it, near 0 for a random permutation (its standard
 * deviation is 1/sqrt(n-1) then).
 */
export function spearman(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n !== ys.length || n < 2) throw new Error('spearman needs two orders of the same length, at least 2');
  const rx = ranks(xs);
  const ry = ranks(ys);
  let d2 = 0;
  for (let i = 0; i < n; i++) d2 += ((rx[i] as number) - (ry[i] as number)) ** 2;
  return 1 - (6 * d2) / (n * (n * n - 1));
}

/**
 * Pearson's chi-square statistic of where the earliest joiners ended up: the admission ranks of
 * the first `sample` joiners, counted in `bins` equal slices of the line, against an even spread.
 * Uniform placement keeps it near `bins - 1`; first come, first served piles them into the first bin.
 */
export function earlyJoinerSpread(admissionRankByJoin: number[], sample: number, bins: number): number {
  const n = admissionRankByJoin.length;
  const counts = new Array<number>(bins).fill(0);
  for (const rank of admissionRankByJoin.slice(0, sample)) {
    const bin = Math.min(bins - 1, Math.floor((rank * bins) / n));
    counts[bin] = (counts[bin] as number) + 1;
  }
  const expected = sample / bins;
  return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
}

/** A small seeded generator (mulberry32), for draws a test must be able to repeat. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
