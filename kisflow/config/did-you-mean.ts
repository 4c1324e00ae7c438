/**
 * "Did you mean" suggestions for unknown keys, kistypes and ids. Distances count Unicode code
 * points (ids may be Chinese) and an adjacent transposition costs one edit, because `fmdoe` is
 * one slip of the fingers, not two.
 */

/**
 * Optimal string alignment distance (Levenshtein plus adjacent transpositions).
 *
 * @example
 * editDistance('fmdoe', 'fmode'); // 1
 */
export function editDistance(a: string, b: string): number {
  const s = Array.from(a);
  const t = Array.from(b);
  const rows = s.length + 1;
  const cols = t.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      let best = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
      row[j] = best;
    }
  }
  return (d[rows - 1] as number[])[cols - 1] as number;
}

/**
 * The candidate closest to `input`, when it is close enough to be a plausible typo: a case-only
 * difference, or at most one edit per three characters (ids shorter than three: case only).
 *
 * @example
 * didYouMean('fmdoe', ['fid', 'fmode', 'option']); // 'fmode'
 * didYouMean('colour', ['fid', 'fmode']);          // undefined
 */
export function didYouMean(input: string, candidates: Iterable<string>): string | undefined {
  const lower = input.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === input) continue;
    const distance = candidate.toLowerCase() === lower ? 0 : editDistance(input, candidate);
    const length = Math.max(Array.from(input).length, Array.from(candidate).length);
    // Under three characters any other id is "close": only a case slip is worth a hint there.
    const allowed = length < 3 ? 0 : Math.max(1, Math.floor(length / 3));
    if (distance <= allowed && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** ` (did you mean "x"?)` or an empty string: ready to append to a message. */
export function didYouMeanHint(input: string, candidates: Iterable<string>): string {
  const suggestion = didYouMean(input, candidates);
  return suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
}
