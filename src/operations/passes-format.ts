/** How `oproc passes` prints: a readable table on a terminal, tab-separated lines otherwise. */
import type { MissingPass, PassRow } from './passes.js';

export interface SubjobSummary {
  done: number;
  total: number;
  /** Subjob count per status, in first-seen order. */
  byStatus: [string, number][];
}

/** Subjobs done (`completed`) out of all, and how many are in each status. */
export function summarizeSubjobs(row: PassRow): SubjobSummary {
  const subjobs = Array.isArray(row.subjobs) ? row.subjobs : [];
  const counts = new Map<string, number>();
  for (const subjob of subjobs) {
    const status = String(subjob?.status ?? '?');
    counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  return { done: counts.get('completed') ?? 0, total: subjobs.length, byStatus: [...counts] };
}

function statusCounts(summary: SubjobSummary, separator: string): string {
  return summary.byStatus.map(([status, n]) => `${status}${separator}${n}`).join(',');
}

const text = (value: unknown): string => (value === undefined || value === null ? '-' : String(value));

export const tsvHeader = [
  'run',
  'module',
  'pass',
  'ratv',
  'filetype',
  'status',
  'subjobs_done',
  'subjobs_total',
  'subjob_statuses',
  'submission',
  'created',
];

/** One line per pass, fields in `tsvHeader` order, for scripts. */
export function tsvLines(rows: readonly PassRow[]): string[] {
  return [
    tsvHeader.join('\t'),
    ...rows.map((row) => {
      const subjobs = summarizeSubjobs(row);
      return [
        row.run,
        row.module,
        row.pass,
        text(row.ratv),
        text(row.filetype),
        text(row.status),
        subjobs.done,
        subjobs.total,
        statusCounts(subjobs, ':'),
        text(row.submission),
        text(row.created),
      ].join('\t');
    }),
  ];
}

/** Columns padded to their widest cell, for reading on a terminal. */
export function tableLines(rows: readonly PassRow[]): string[] {
  const header = ['RUN', 'MODULE', 'PASS', 'RATV', 'FILETYPE', 'STATUS', 'SUBJOBS', 'SUBMISSION', 'CREATED'];
  const cells = rows.map((row) => {
    const subjobs = summarizeSubjobs(row);
    const counts = subjobs.byStatus.map(([status, n]) => `${n} ${status}`).join(', ');
    return [
      String(row.run),
      row.module,
      String(row.pass),
      text(row.ratv),
      text(row.filetype),
      text(row.status),
      `${subjobs.done}/${subjobs.total} done${counts ? ` (${counts})` : ''}`,
      text(row.submission),
      text(row.created).replace(/\.\d+Z$/, 'Z'),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) =>
    c
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)];
}

/** `Analysis 300050 7: job_300050_Analysis has passes 0, 1` */
export function describeMissing(missing: MissingPass): string {
  return `${missing.module} ${missing.run} ${missing.pass}: ${missing.reason}`;
}
