import { distance } from 'fastest-levenshtein';

/**
 * The candidate nearest to what was typed (edit distance; the first of equals), or undefined when
 * none is near enough to be what was meant: within a third of the word plus one edit, or a word
 * the typed text begins. `--jsn` is near `--json`; `--frobnicate` is near nothing.
 */
export function nearest(typed: string, candidates: readonly string[]): string | undefined {
  const prefixed = candidates.find((c) => typed.length >= 2 && c.startsWith(typed));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const d = distance(typed, candidate);
    if (best === undefined || d < best.distance) best = { candidate, distance: d };
  }
  if (best && best.distance <= Math.floor(typed.length / 3) + 1) return best.candidate;
  return prefixed;
}

/** The edit distance from `typed` to the nearest candidate (Infinity when there is none). */
export function nearestDistance(typed: string, candidates: readonly string[]): number {
  return candidates.reduce((min, candidate) => Math.min(min, distance(typed, candidate)), Infinity);
}

/** A word as a shell user would type it back: quoted only when it has to be. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
