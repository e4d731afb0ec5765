/** docs/PERFORMANCE.md from the benchmark's figures, with the hand-written analysis in bench/notes.md. */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { format, resolveConfig } from 'prettier';

import { chartSvg, type ChartPoint } from './chart.js';
import { root, rssMethod } from './processes.js';
import type { PassChangesResult } from './pass-changes.js';
import type { WatchLatency } from './watch.js';

export interface SizeResult {
  runs: number;
  dataflowDocuments: number;
  seedMs: number;
  oprocMs: number;
  peakRssMb: number | undefined;
  jobDocuments: number;
  rawMs: number;
}

export interface EmbeddedResult {
  runs: number;
  oprocMs: number;
  peakRssMb: number | undefined;
  rawMs: number;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
}

export interface BenchResults {
  date: string;
  command: string;
  machine: Machine;
  subruns: number;
  sizes: SizeResult[];
  watch?: WatchLatency;
  helpMs?: { median: number; samples: number[] };
  embedded?: EmbeddedResult;
  passChanges?: PassChangesResult;
  totalMs: number;
}

interface Target {
  name: string;
  limit: string;
  measured: number | undefined;
  max: number;
  unit: string;
}

const s = (ms: number) => (ms / 1000).toFixed(1);
const mb = (value: number | undefined) => (value === undefined ? 'n/a' : value.toFixed(0));

function targets(results: BenchResults): Target[] {
  const at = (runs: number) => results.sizes.find((r) => r.runs === runs);
  const ten = at(10_000);
  const fifty = at(50_000);
  return [
    {
      name: 'oproc / raw `_bulk_docs` at 10,000 runs',
      limit: '≤ 1.5',
      measured: ten && ten.oprocMs / ten.rawMs,
      max: 1.5,
      unit: '×',
    },
    {
      name: 'time at 50,000 runs / time at 10,000 runs',
      limit: '≤ 5.5',
      measured: ten && fifty && fifty.oprocMs / ten.oprocMs,
      max: 5.5,
      unit: '×',
    },
    { name: 'peak RSS at 50,000 runs', limit: '≤ 250 MB', measured: fifty?.peakRssMb, max: 250, unit: ' MB' },
    {
      name: 'median watch latency',
      limit: '≤ 1 s',
      measured: results.watch && results.watch.medianMs / 1000,
      max: 1,
      unit: ' s',
    },
    {
      name: `\`oproc retry\` / raw \`_bulk_docs\`, ${results.passChanges?.passes.toLocaleString('en') ?? '10,000'} passes`,
      limit: '≤ 2',
      measured: results.passChanges && results.passChanges.retryMs / results.passChanges.rawMs,
      max: 2,
      unit: '×',
    },
    {
      name: `\`oproc cancel\` / raw \`_bulk_docs\`, ${results.passChanges?.passes.toLocaleString('en') ?? '10,000'} passes`,
      limit: '≤ 2',
      measured: results.passChanges && results.passChanges.cancelMs / results.passChanges.rawMs,
      max: 2,
      unit: '×',
    },
    {
      name: '`oproc --help` start-up',
      limit: '< 0.5 s',
      measured: results.helpMs && results.helpMs.median / 1000,
      max: 0.5,
      unit: ' s',
    },
  ];
}

function verdict(t: Target): string {
  if (t.measured === undefined) return 'not measured in this run';
  if (t.measured <= t.max) return 'met';
  const over = ((t.measured / t.max - 1) * 100).toFixed(0);
  return `**missed** by ${(t.measured - t.max).toFixed(2)}${t.unit} (${over} % over)`;
}

function sizeTable(results: BenchResults): string[] {
  const lines = [
    '| runs | data-flow docs | seeding (s) | `oproc reprocess range` (s) | raw `_bulk_docs` (s) | ratio | peak RSS of oproc (MB) |',
    '|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results.sizes) {
    const ratio = (r.oprocMs / r.rawMs).toFixed(2);
    lines.push(
      `| ${r.runs.toLocaleString('en')} | ${r.dataflowDocuments.toLocaleString('en')} | ${s(r.seedMs)} | ${s(r.oprocMs)} | ${s(r.rawMs)} | ${ratio} | ${mb(r.peakRssMb)} |`,
    );
  }
  return lines;
}

function otherFigures(results: BenchResults): string[] {
  const lines: string[] = [];
  if (results.watch) {
    const w = results.watch;
    lines.push(
      `- **Watch latency** (\`oproc watch --interval ${w.intervalSeconds}\`, ${w.rounds} runs): median ${(w.medianMs / 1000).toFixed(2)} s, worst ${(w.worstMs / 1000).toFixed(2)} s.`,
      `  All: ${w.latenciesMs.map((ms) => (ms / 1000).toFixed(2)).join(', ')} s.`,
    );
  }
  if (results.helpMs) {
    const samples = results.helpMs.samples.map((ms) => (ms / 1000).toFixed(2)).join(', ');
    lines.push(
      `- **\`oproc --help\` start-up**: median ${(results.helpMs.median / 1000).toFixed(2)} s of ${results.helpMs.samples.length} (${samples} s).`,
    );
  }
  if (results.passChanges) {
    const p = results.passChanges;
    lines.push(
      `- **Retry and cancel** (${p.passes.toLocaleString('en')} failed passes among ${p.jobDocuments.toLocaleString('en')} job documents on pouchdb-server, views up to date): \`oproc retry CONFIG RATV --yes --json\` ${s(p.retryMs)} s (peak RSS ${mb(p.retryRssMb)} MB), then \`oproc cancel CONFIG RATV -m "*" --status waiting --yes --json\` of the same passes ${s(p.cancelMs)} s; raw \`_bulk_docs\` of those ${p.passes.toLocaleString('en')} job documents into a fresh database ${s(p.rawMs)} s; ratios ${(p.retryMs / p.rawMs).toFixed(2)} and ${(p.cancelMs / p.rawMs).toFixed(2)}.`,
    );
  }
  if (results.embedded) {
    const e = results.embedded;
    lines.push(
      `- **Embedded backends** (PouchDB and PGlite on disk, ${e.runs.toLocaleString('en')} runs): \`oproc reprocess range\` ${s(e.oprocMs)} s, peak RSS ${mb(e.peakRssMb)} MB; raw \`bulkDocs\` of the same ${(e.runs * 2).toLocaleString('en')} job documents into PouchDB ${s(e.rawMs)} s; ratio ${(e.oprocMs / e.rawMs).toFixed(2)}.`,
    );
  }
  return lines;
}

function chartPoints(results: BenchResults): ChartPoint[] {
  return results.sizes.flatMap((r) => [
    { runs: r.runs, seconds: r.oprocMs / 1000, series: 'oproc reprocess range' },
    { runs: r.runs, seconds: r.rawMs / 1000, series: 'raw _bulk_docs (same job documents)' },
  ]);
}

async function notes(): Promise<string> {
  return (await readFile(path.join(root, 'bench', 'notes.md'), 'utf8').catch(() => '')).trim();
}

export function markdown(results: BenchResults, analysis: string): string {
  const m = results.machine;
  const lines = [
    '# Performance',
    '',
    `Measured by \`npm run bench\` (bench/run.ts) on ${results.date}. Command: \`${results.command}\` (${s(results.totalMs)} s in all).`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores (\`nproc\`), ${m.memoryGiB} GiB memory, ${m.os}, Node ${m.node}.`,
    'Servers: pouchdb-server (LevelDB on disk) for the data-flow and processing databases, PostgreSQL for RATDB, both on loopback and started by the benchmark.',
    '',
    `Workload: Physics runs with ${results.subruns} subruns each, files of both L1 and L2 registered, every RATDB table present; 2 modules per run (Processing, then Analysis linked to it), so 2 job documents per run. Each size has fresh databases; the data-flow views are built after seeding, before oproc is timed.`,
    '',
    `Wall time is from spawning \`node bin/run.js reprocess range CONFIG RATV L2 FIRST LAST --json\` to its exit (start-up included). Peak RSS: ${rssMethod}. The raw baseline writes the same job documents (oproc's own, copied per run) by \`_bulk_docs\` in chunks of 2,000 into a fresh database on the same server, in the same benchmark run.`,
    '',
    '## Figures',
    '',
    ...sizeTable(results),
    '',
    '![time against number of runs](performance.svg)',
    '',
    ...otherFigures(results),
    '',
    '## Targets',
    '',
    '| target | limit | measured | |',
    '|---|---|---:|---|',
    ...targets(results).map(
      (t) =>
        `| ${t.name} | ${t.limit} | ${t.measured === undefined ? '–' : `${t.measured.toFixed(2)}${t.unit}`} | ${verdict(t)} |`,
    ),
    '',
  ];
  if (analysis) lines.push(analysis, '');
  return lines.join('\n');
}

/** Writes docs/PERFORMANCE.md and docs/performance.svg. */
export async function writeReport(results: BenchResults): Promise<void> {
  const docs = path.join(root, 'docs');
  await writeFile(path.join(docs, 'performance.svg'), await chartSvg(chartPoints(results)));
  const file = path.join(docs, 'PERFORMANCE.md');
  // Formatted as `npm run lint` checks it (prettier aligns the tables).
  const text = await format(markdown(results, await notes()), {
    ...(await resolveConfig(file)),
    filepath: file,
  });
  await writeFile(file, text);
}
