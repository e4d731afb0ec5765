/** How `oproc retry` and `oproc cancel` print what they change, would change, and leave. */
import type { ChangedPass, LeftPass, MatchedPass, PassChangeKind } from './pass-changes.js';
import { countsByModuleAndStatus, targetStatus } from './pass-changes.js';
import { plural } from '../util/plural.js';

export const verbs: Record<PassChangeKind, { past: string; infinitive: string }> = {
  retry: { past: 'retried', infinitive: 'retry' },
  cancel: { past: 'canceled', infinitive: 'cancel' },
};

/**
 * One line per pass in the outlist form (`MODULE<TAB>RUN<TAB>PASS`) with the change as a trailing
 * comment: saved to a file, the listing is an outlist `--exactly` reads back.
 */
export function changeLines(changes: readonly ChangedPass[]): string[] {
  return changes.map((c) => `${c.module}\t${c.run}\t${c.pass}\t# ${c.from} -> ${c.to}`);
}

/** The count per module and status, as a table a shifter checks before answering. */
export function countLines(matched: readonly MatchedPass[]): string[] {
  const rows = countsByModuleAndStatus(matched).map((c) => [c.module, c.status, String(c.count)]);
  const header = ['MODULE', 'STATUS', 'PASSES'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    `  ${cells
      .map((cell, i) => (i === 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()}`;
  return [line(header), ...rows.map(line)];
}

/** `  Processing 300003 pass 0 (completed): changed meanwhile: status is completed` */
export function leftLines(left: readonly LeftPass[]): string[] {
  return left.map(
    (l) => `  ${l.module} ${l.run} pass ${l.pass}${l.status ? ` (${l.status})` : ''}: ${l.reason}`,
  );
}

/** `3 passes of RAT 7.0.8` and what they become: `failed, partFail -> waiting`. */
export function describeMatch(kind: PassChangeKind, ratv: string, matched: readonly MatchedPass[]): string {
  const from = [...new Set(matched.map((m) => m.status))].join(', ');
  return `${plural(matched.length, 'pass')} of RAT ${ratv} (${from} -> ${targetStatus[kind]})`;
}
