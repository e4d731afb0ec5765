/** How `oproc status` and `oproc why` print: tables on a terminal, plain lines otherwise. */
import wrapAnsi from 'wrap-ansi';

import { plural } from '../util/plural.js';
import type { WatcherView } from './insight.js';
import type { StatusReport, WatcherStatus } from './status.js';
import type { WhyReport } from './why.js';

const dash = (value: unknown): string => (value === undefined || value === null ? '-' : String(value));
const when = (iso: string | null): string => dash(iso).replace(/\.\d+Z$/, 'Z');

/** Columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** A line wrapped at spaces to `width`, its continuations indented two more; a longer word stays whole. */
function wrapIndented(line: string, width: number): string[] {
  const indent = /^\s*/.exec(line)?.[0] ?? '';
  if (line.length <= width) return [line];
  const room = Math.max(width - indent.length - 2, 20);
  const [first, ...rest] = wrapAnsi(line.slice(indent.length), room + 2, { hard: false, trim: true }).split(
    '\n',
  );
  const more = rest.length ? wrapAnsi(rest.join(' '), room, { hard: false, trim: true }).split('\n') : [];
  return [`${indent}${first}`, ...more.map((part) => `${indent}  ${part}`)];
}

/**
 * A table that fits in `width` columns; when it would not, each row as one record instead: the
 * first cell, then "column value" pieces, a piece never split across lines unless it alone is too
 * long (then at spaces).
 */
export function fitTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  width: number,
): string[] {
  const natural = table(header, rows);
  if (natural.every((line) => line.length <= width)) return natural;
  return rows.flatMap((row) => {
    const pieces = row.slice(1).map((cell, i) => `${header[i + 1]!.toLowerCase()} ${cell}`);
    const lines: string[] = [];
    let current = `${row[0] ?? ''}:`;
    for (const [i, piece] of pieces.entries()) {
      const text = `${piece}${i < pieces.length - 1 ? ',' : ''}`;
      if (current.length + 1 + text.length <= width) current += ` ${text}`;
      else {
        lines.push(current);
        const parts = wrapAnsi(text, width - 2, { hard: false, trim: true }).split('\n');
        lines.push(...parts.slice(0, -1).map((part) => `  ${part}`));
        current = `  ${parts.at(-1)!}`;
      }
    }
    lines.push(current);
    return lines;
  });
}

function age(watcher: WatcherStatus): string {
  return watcher.heartbeat_age_seconds === null ? '-' : `${watcher.heartbeat_age_seconds} s`;
}

/** A watcher's health: done, stale (why), stopped (when, how), or ok. */
export function health(watcher: WatcherView & { done: boolean }): string {
  if (watcher.done) return 'done';
  if (watcher.stale) return `STALE: ${watcher.stale_reason}`;
  if (watcher.stopped) return `stopped at ${when(watcher.stopped)} (${stoppedHow(watcher.stopped_how)})`;
  return 'ok';
}

function stoppedHow(how: string | null): string {
  if (how === 'once') return '--once done';
  if (how === 'block-done') return 'block finished';
  return dash(how);
}

function backlogText(watcher: WatcherStatus): string {
  return `${watcher.backlog}${watcher.backlog_capped ? '+' : ''}`;
}

/** Status as tables, for a terminal `width` columns wide: tables that would not fit become records, long lines wrap. */
export function statusTables(report: StatusReport, width = 80): string[] {
  const out: string[] = [];
  for (const r of report.ratvs) {
    out.push(`RAT ${r.ratv}`);
    const modules = [...new Set([...Object.keys(r.passes.all), ...Object.keys(r.passes.newest)])].sort();
    const statuses = [
      ...new Set(
        modules.flatMap((m) => [
          ...Object.keys(r.passes.all[m] ?? {}),
          ...Object.keys(r.passes.newest[m] ?? {}),
        ]),
      ),
    ].sort();
    if (modules.length === 0) out.push('  no passes');
    else {
      const rows = modules.flatMap((m) =>
        (['newest', 'all'] as const).map((which) => [
          m,
          which,
          ...statuses.map((s) => String(r.passes[which][m]?.[s] ?? 0)),
        ]),
      );
      out.push(...fitTable(['MODULE', 'PASSES', ...statuses], rows, width - 2).map((l) => `  ${l}`));
    }
    const recent = r.handled_per_day.filter((d) => d.passes > 0);
    const latest = recent.at(-1);
    out.push(
      `  runs handled in the last 28 days: ${r.runs_handled}${latest ? ` (latest day ${latest.day}: ${plural(latest.runs, 'run')}, ${plural(latest.passes, 'pass')})` : ''}`,
    );
    if (r.watchers.length === 0) out.push('  no watcher');
    else {
      const rows = r.watchers.map((w) => [
        w.state,
        dash(w.last_run),
        dash(w.newest_complete_run),
        backlogText(w),
        dash(w.holder),
        age(w),
        health(w),
      ]);
      out.push(
        ...fitTable(
          ['WATCHER', 'LAST RUN', 'NEWEST COMPLETE', 'BACKLOG', 'HOLDER', 'HEARTBEAT', 'HEALTH'],
          rows,
          width - 2,
        ).map((l) => `  ${l}`),
      );
      for (const w of r.watchers)
        for (const b of w.backlog_runs) out.push(`    ${w.state} run ${b.run}: ${b.verdict}`);
    }
    out.push('');
  }
  if (report.ratvs.length === 0) out.push('No passes and no watchers.', '');
  out.push(...lockLines(report));
  out.push(conflictLine(report));
  out.push('');
  if (report.submissions.length === 0) out.push('No submissions.');
  else
    out.push(
      ...fitTable(
        ['SUBMISSION', 'MODE', 'RATV', 'FILETYPE', 'RUNS', 'DONE', 'STARTED', 'FINISHED'],
        report.submissions.map((s) => [
          s.id,
          s.mode,
          s.ratv,
          s.filetype,
          String(s.runs),
          String(s.done),
          when(s.started),
          when(s.finished),
        ]),
        width,
      ),
    );
  return out.flatMap((line) => wrapIndented(line, width));
}

function conflictLine(report: StatusReport): string {
  if (report.conflicts === null)
    return 'Conflicted documents: unknown (no conflicts view: run oproc init CONFIG)';
  return `Conflicted documents: ${report.conflicts}${report.conflicts ? ' (a running watcher merges them within a cycle or two)' : ''}`;
}

function lockLines(report: StatusReport): string[] {
  if (report.locks.length === 0) return ['Calibration locks: none'];
  return report.locks.map(
    (l) =>
      `Calibration lock ${l.calibration}: run ${l.run}, ${l.holds ? 'holding later runs' : `released (validto ${dash(l.validto)})`}, set ${when(l.set_at)}`,
  );
}

/** Status as plain lines (a word, then fields), for logs, pipes and grep. */
export function statusLines(report: StatusReport): string[] {
  const out: string[] = [`generated ${report.generated}`];
  for (const r of report.ratvs) {
    for (const which of ['newest', 'all'] as const)
      for (const [module, counts] of Object.entries(r.passes[which]))
        for (const [status, n] of Object.entries(counts))
          out.push(`passes ${r.ratv} ${which} ${module} ${status} ${n}`);
    for (const d of r.handled_per_day)
      if (d.passes) out.push(`handled ${r.ratv} ${d.day} runs ${d.runs} passes ${d.passes}`);
    for (const w of r.watchers) {
      out.push(
        `watcher ${w.state} last_run ${dash(w.last_run)} newest_complete ${dash(w.newest_complete_run)} backlog ${backlogText(w)} ` +
          `holder ${dash(w.holder)} heartbeat ${when(w.heartbeat)} age ${age(w)} ${health(w)}`,
      );
      for (const b of w.backlog_runs) out.push(`backlog ${w.state} ${b.run} ${b.verdict}`);
    }
  }
  for (const l of report.locks)
    out.push(
      `lock ${l.calibration} run ${l.run} ${l.holds ? 'holding' : 'released'} validto ${dash(l.validto)} set ${when(l.set_at)}`,
    );
  out.push(`conflicts ${report.conflicts ?? 'unknown'}`);
  for (const s of report.submissions)
    out.push(
      `submission ${s.id} ${s.mode} ${s.ratv} ${s.filetype} runs ${s.runs} done ${s.done} started ${when(s.started)} finished ${when(s.finished)}`,
    );
  return out;
}

/** Why, section by section in the engine's order; the last line is the verdict. */
export function whyLines(r: WhyReport): string[] {
  const out: string[] = [
    `Run ${r.run}, RAT ${r.ratv} ${r.filetype}${r.ratdb_tag ? `, RATDB tag ${r.ratdb_tag}` : ''}`,
  ];
  const d = r.dataflow;
  out.push('Data-flow:');
  if (!d.known) out.push(`  no data-flow document names run ${r.run}`);
  for (const [filetype, subruns] of Object.entries(d.files))
    out.push(
      `  ${filetype}: ${subruns.length ? `${plural(subruns.length, 'subrun')} ${ranges(subruns)}` : 'no files'}`,
    );
  if (d.known) out.push(`  ${d.complete ? 'complete' : 'not complete'}: ${d.complete_reason}`);
  out.push('Run type (RATDB RUN table):');
  out.push(
    r.run_type.word === null
      ? '  no RUN table for the run'
      : `  ${r.run_type.word} = ${r.run_type.names.join(' + ') || 'no bit set'}`,
  );
  out.push(`Modules selected: ${r.modules.selected.join(', ') || 'none'}`);
  if (r.tables.length) {
    out.push('RATDB tables:');
    for (const t of r.tables)
      out.push(
        `  ${t.module}: ${t.required.length === 0 ? 'none required' : `present ${t.present.join(', ') || '-'}; missing ${t.missing.join(', ') || '-'}`}`,
      );
  }
  if (r.prerequisites.some((p) => p.links.length || p.problem)) {
    out.push('Prerequisites:');
    for (const p of r.prerequisites) {
      if (!p.links.length && !p.problem) continue;
      const links = p.links.map((l) => `${l.module} (${l.how})`).join(', ');
      out.push(`  ${p.module}: ${links || '-'}${p.problem ? `; ${p.problem}` : ''}`);
    }
  }
  out.push('Calibration locks:');
  if (r.locks.length === 0) out.push('  none');
  for (const l of r.locks)
    out.push(
      `  ${l.calibration}: set at run ${l.run}, ${l.locked && l.validto === null ? 'locked' : `released (validto ${dash(l.validto)})`}; ${l.holds ? 'holds this run' : 'does not hold this run'}`,
    );
  out.push(`Watchers of ${r.ratv} ${r.filetype}:`);
  if (r.watchers.length === 0) out.push('  none has a state yet');
  for (const w of r.watchers)
    out.push(
      `  ${w.state}: last_run ${dash(w.last_run)}; lease ${dash(w.holder)}, heartbeat ${when(w.heartbeat)}${w.stale ? ` (stale: ${w.stale_reason})` : w.stopped ? ` (${health(w)})` : ''}`,
    );
  out.push('Passes:');
  if (r.passes.length === 0) out.push('  none');
  for (const p of r.passes)
    out.push(
      `  ${p.module} pass ${p.pass}: ${p.status}, RAT ${p.ratv} ${p.filetype}, ${p.subjobs_completed}/${p.subjobs} subjobs completed, created ${when(p.created)}`,
    );
  out.push(r.verdict);
  return out;
}

/** `0-3, 5` for subruns 0, 1, 2, 3, 5. */
function ranges(sorted: readonly number[]): string {
  const parts: string[] = [];
  let start = sorted[0]!;
  let previous = start;
  for (const n of [...sorted.slice(1), Number.NaN]) {
    if (n === previous + 1) {
      previous = n;
      continue;
    }
    parts.push(start === previous ? String(start) : `${start}-${previous}`);
    start = n;
    previous = n;
  }
  return parts.join(', ');
}
