/** docs/PERFORMANCE.md from the benchmark's figures, with the hand-written analysis in bench/notes.md. */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { format, resolveConfig } from 'prettier';

import { chartSvg, type ChartPoint } from './chart.js';
import type { PassChangesResult } from './pass-changes.js';
import { median, root, rssMethod } from './processes.js';
import type { SweepResult, WriteShape } from './raw.js';
import type { WatchLatency } from './watch.js';

export interface SizeResult {
  runs: number;
  dataflowDocuments: number;
  /** Seeding the data-flow documents (parallel raw `_bulk_docs`) and RATDB. */
  seedMs: number;
  /** Building the views of those documents (`oproc init`, or `init --no-wait` and a watcher meeting the build). */
  viewMs: number;
  oprocMs: number;
  peakRssMb: number | undefined;
  jobDocuments: number;
  rawMs: number;
  /** The same raw writes into a database holding oproc's processing views (older results lack it). */
  rawViewsMs?: number;
  /** CPU seconds during the reprocess and during the raw writes (older results lack them). */
  cpu?: CpuFigures;
  /** How long the server's own background work (compaction, indexing) was waited out before the reprocess. */
  quietMs?: number;
  viewWait?: ViewWait;
}

/** CPU seconds (user and system) each side used, read from the kernel around each measurement. */
export interface CpuFigures {
  /** The oproc process (GNU time), when it could be read. */
  oproc: number | undefined;
  /** The document server's processes during the reprocess (its view servers included), when read. */
  server: number | undefined;
  /** PostgreSQL's processes during the reprocess (RATDB). */
  postgres: number;
  /** The benchmark's own process during the raw writes. */
  rawClient: number;
  /** The document server's processes during the raw writes, when read. */
  rawServer: number | undefined;
}

/** A view build met by a watcher: `oproc init --no-wait`, then `oproc watch --once` at once. */
export interface ViewWait {
  noWaitMs: number;
  /** The watcher's whole run: waiting for the build, then one cycle. */
  watchMs: number;
  /** Its lines saying the view is being built. */
  notices: number;
  sampleNotice?: string;
  /** `oproc init` afterwards, on built views. */
  initAfterMs: number;
}

export interface ServerResult {
  server: string;
  sweep?: { documents: number; results: SweepResult[]; best: WriteShape };
  sizes: SizeResult[];
  watch?: WatchLatency;
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
  servers: ServerResult[];
  /** What was not measured, and why. */
  notes: string[];
  /** The 1-minute load average every 10 s of the run (other work on the machine shows here). */
  loadAverage: number[];
  helpMs?: { median: number; samples: number[] };
  embedded?: EmbeddedResult;
  /** Per server (a single result in the JSON of runs before 2026-12-06: pouchdb-server). */
  passChanges?: PassChangesResult[] | PassChangesResult;
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
const n = (value: number) => value.toLocaleString('en');

/** Each server's retry and cancel figures (one result without a server name: pouchdb-server). */
function passChangesOf(results: BenchResults): PassChangesResult[] {
  if (!results.passChanges) return [];
  return Array.isArray(results.passChanges)
    ? results.passChanges
    : [{ ...results.passChanges, server: results.passChanges.server ?? 'pouchdb-server' }];
}

/** The targets of a server (issue 21 for the ratios, retry and cancel; the first targets for the rest). */
function targets(server: ServerResult, results: BenchResults): Target[] {
  const at = (runs: number) => server.sizes.find((r) => r.runs === runs);
  const ratio = (runs: number): Target => {
    const size = at(runs);
    return {
      name: `oproc / raw \`_bulk_docs\` at ${n(runs)} runs`,
      limit: '≤ 1.5',
      measured: size && size.oprocMs / size.rawMs,
      max: 1.5,
      unit: '×',
    };
  };
  const fifty = at(50_000);
  const large = at(200_000);
  const ops = passChangesOf(results).find((p) => p.server === server.server);
  const helpMs = results.helpMs;
  // A server measured below 200,000 runs (pouchdb-server, by default) has no rows for that size:
  // issue 21 holds real CouchDB to them.
  const atLarge = (list: Target[]) => (large ? list : []);
  return [
    ratio(10_000),
    ratio(50_000),
    ...atLarge([
      ratio(200_000),
      {
        name: 'time at 200,000 runs / time at 50,000 runs',
        limit: '≤ 4.1',
        measured: fifty && large && large.oprocMs / fifty.oprocMs,
        max: 4.1,
        unit: '×',
      },
      {
        name: 'PostgreSQL CPU during the reprocess of 200,000 runs',
        limit: '≤ 3 s',
        measured: large?.cpu?.postgres,
        max: 3,
        unit: ' s',
      },
      {
        name: 'PostgreSQL CPU at 200,000 runs / at 50,000 runs (linear: 4)',
        limit: '≤ 4.1',
        measured: fifty?.cpu?.postgres && large?.cpu?.postgres && large.cpu.postgres / fifty.cpu.postgres,
        max: 4.1,
        unit: '×',
      },
      {
        name: 'peak RSS at 200,000 runs',
        limit: '≤ 250 MB',
        measured: large?.peakRssMb,
        max: 250,
        unit: ' MB',
      },
    ]),
    {
      name: '`oproc retry` of 10,000 passes / raw writes of their documents',
      limit: '≤ 2',
      measured: ops && ops.retryMs / ops.rawMs,
      max: 2,
      unit: '×',
    },
    {
      name: '`oproc cancel` of 10,000 passes / raw writes of their documents',
      limit: '≤ 2',
      measured: ops && ops.cancelMs / ops.rawMs,
      max: 2,
      unit: '×',
    },
    {
      name: 'median watch latency',
      limit: '≤ 0.5 s',
      measured: server.watch && server.watch.medianMs / 1000,
      max: 0.5,
      unit: ' s',
    },
    {
      name: '`oproc --help` start-up',
      limit: '< 0.5 s',
      measured: helpMs && helpMs.median / 1000,
      max: 0.5,
      unit: ' s',
    },
  ];
}

/** The embedded backends' targets (issue 21): PouchDB and PGlite on disk, 10,000 runs. */
function embeddedTargets(results: BenchResults): Target[] {
  const e = results.embedded;
  return [
    {
      name: `oproc / raw \`bulkDocs\` at ${e ? n(e.runs) : '10,000'} runs`,
      limit: '≤ 3',
      measured: e && e.oprocMs / e.rawMs,
      max: 3,
      unit: '×',
    },
    {
      name: `peak RSS at ${e ? n(e.runs) : '10,000'} runs`,
      limit: '≤ 250 MB',
      measured: e?.peakRssMb,
      max: 250,
      unit: ' MB',
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
    '| server | runs | data-flow docs | seeding (s) | views built (s) | build rate (docs/s) | `oproc reprocess range` (s) | raw `_bulk_docs` (s) | ratio | raw, into a database with oproc’s views (s) | ratio to that | peak RSS of oproc (MB) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const server of results.servers)
    for (const r of server.sizes) {
      const ratio = (r.oprocMs / r.rawMs).toFixed(2);
      const rate = n(Math.round((r.dataflowDocuments * 1000) / r.viewMs));
      lines.push(
        `| ${server.server} | ${n(r.runs)} | ${n(r.dataflowDocuments)} | ${s(r.seedMs)} | ${s(r.viewMs)} | ${rate} | ${s(r.oprocMs)} | ${s(r.rawMs)} | ${ratio} | ${r.rawViewsMs ? s(r.rawViewsMs) : '–'} | ${r.rawViewsMs ? (r.oprocMs / r.rawViewsMs).toFixed(2) : '–'} | ${mb(r.peakRssMb)} |`,
      );
    }
  return lines;
}

/**
 * Where the time went: the CPU each process used during the reprocess and the raw writes, and that
 * CPU spread over the machine's cores, the least wall time the work could take on it.
 */
function cpuTable(results: BenchResults): string[] {
  const rows = results.servers.flatMap((server) =>
    server.sizes.flatMap((r) => (r.cpu ? [{ server: server.server, r, cpu: r.cpu }] : [])),
  );
  if (rows.length === 0) return [];
  const cores = results.machine.cores;
  const lines = [
    `CPU seconds (user and system, from the kernel) during each measurement above, and their sum over the machine's ${cores} cores: the least wall time that work could take here.`,
    '',
    '| server | runs | reprocess: wall (s) | oproc CPU | server CPU | PostgreSQL CPU | sum ÷ cores (s) | raw: wall (s) | client CPU | server CPU | sum ÷ cores (s) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const { server, r, cpu } of rows) {
    const c = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(1));
    const oprocSum =
      cpu.oproc === undefined || cpu.server === undefined ? undefined : cpu.oproc + cpu.server + cpu.postgres;
    const rawSum = cpu.rawServer === undefined ? undefined : cpu.rawClient + cpu.rawServer;
    lines.push(
      `| ${server} | ${n(r.runs)} | ${s(r.oprocMs)} | ${c(cpu.oproc)} | ${c(cpu.server)} | ${c(cpu.postgres)} | ${c(oprocSum === undefined ? undefined : oprocSum / cores)} | ${s(r.rawMs)} | ${c(cpu.rawClient)} | ${c(cpu.rawServer)} | ${c(rawSum === undefined ? undefined : rawSum / cores)} |`,
    );
  }
  return lines;
}

function sweepLines(results: BenchResults): string[] {
  const lines: string[] = [];
  for (const server of results.servers) {
    if (!server.sweep) continue;
    const sw = server.sweep;
    lines.push(
      `**${server.server}**, raw \`_bulk_docs\` of ${n(sw.documents)} job documents (s), documents per request × requests in flight; the fastest (**${sw.best.chunk} × ${sw.best.inFlight}**) is the baseline above:`,
      '',
      '| per request | 1 in flight | 2 in flight | 4 in flight |',
      '|---:|---:|---:|---:|',
    );
    for (const chunk of [...new Set(sw.results.map((r) => r.chunk))]) {
      const cells = [1, 2, 4].map((inFlight) => {
        const r = sw.results.find((x) => x.chunk === chunk && x.inFlight === inFlight);
        return r ? (r.ms / 1000).toFixed(2) : '–';
      });
      lines.push(`| ${n(chunk)} | ${cells.join(' | ')} |`);
    }
    lines.push('');
  }
  return lines;
}

function otherFigures(results: BenchResults): string[] {
  const lines: string[] = [];
  for (const server of results.servers) {
    if (server.watch) {
      const w = server.watch;
      lines.push(
        `- **Watch latency, ${server.server}** (\`oproc watch --interval ${w.intervalSeconds}\`, ${w.rounds} runs): median ${(w.medianMs / 1000).toFixed(2)} s, worst ${(w.worstMs / 1000).toFixed(2)} s.`,
        `  All: ${w.latenciesMs.map((ms) => (ms / 1000).toFixed(2)).join(', ')} s.`,
      );
    }
    for (const size of server.sizes) {
      const wait = size.viewWait;
      if (!wait) continue;
      lines.push(
        `- **A view build met by a watcher, ${server.server}, ${n(size.dataflowDocuments)} documents**: \`oproc init --no-wait\` returned in ${s(wait.noWaitMs)} s; \`oproc watch --once\` started at once waited for the build, printing ${wait.notices} progress line(s), and was done ${s(wait.watchMs)} s later (build and one cycle: ${n(Math.round((size.dataflowDocuments * 1000) / size.viewMs))} documents a second); \`oproc init\` afterwards ${s(wait.initAfterMs)} s.${wait.sampleNotice ? ` Its last line: \`${wait.sampleNotice}\`.` : ''}`,
      );
    }
  }
  if (results.helpMs) {
    const samples = results.helpMs.samples.map((ms) => (ms / 1000).toFixed(2)).join(', ');
    lines.push(
      `- **\`oproc --help\` start-up**: median ${(results.helpMs.median / 1000).toFixed(2)} s of ${results.helpMs.samples.length} (${samples} s).`,
    );
  }
  const passChanges = passChangesOf(results);
  for (const p of passChanges) {
    lines.push(
      `- **Retry and cancel, ${p.server}** (${p.passes.toLocaleString('en')} failed passes among ${p.jobDocuments.toLocaleString('en')} job documents, views up to date): \`oproc retry CONFIG RATV --yes --json\` ${s(p.retryMs)} s (peak RSS ${mb(p.retryRssMb)} MB), then \`oproc cancel CONFIG RATV -m "*" --status waiting --yes --json\` of the same passes ${s(p.cancelMs)} s; raw \`_bulk_docs\` of those ${p.passes.toLocaleString('en')} job documents into a fresh database ${s(p.rawMs)} s; ratios ${(p.retryMs / p.rawMs).toFixed(2)} and ${(p.cancelMs / p.rawMs).toFixed(2)}.${p.retryDryRunMs === undefined ? '' : ` Where the retry's time goes: start-up (\`oproc --version\`) ${s(p.startupMs!)} s; start-up, reads and plan (\`oproc retry --dry-run --json\`, just before) ${s(p.retryDryRunMs)} s; so the writes took about ${s(p.retryMs - p.retryDryRunMs)} s.`}`,
    );
  }
  if (results.embedded) {
    const e = results.embedded;
    lines.push(
      `- **Embedded backends** (PouchDB and PGlite on disk, ${n(e.runs)} runs): \`oproc reprocess range\` ${s(e.oprocMs)} s, peak RSS ${mb(e.peakRssMb)} MB; raw \`bulkDocs\` of the same ${n(e.runs * 2)} job documents into PouchDB ${s(e.rawMs)} s; ratio ${(e.oprocMs / e.rawMs).toFixed(2)}.`,
    );
  }
  return lines;
}

function chartPoints(results: BenchResults): ChartPoint[] {
  return results.servers.flatMap((server) =>
    server.sizes.flatMap((r) => [
      { runs: r.runs, seconds: r.oprocMs / 1000, series: `oproc reprocess range, ${server.server}` },
      { runs: r.runs, seconds: r.rawMs / 1000, series: `raw _bulk_docs, ${server.server}` },
    ]),
  );
}

async function notes(): Promise<string> {
  return (await readFile(path.join(root, 'bench', 'notes.md'), 'utf8').catch(() => '')).trim();
}

export function markdown(results: BenchResults, analysis: string): string {
  const m = results.machine;
  const load = results.loadAverage;
  const loadLine = load.length
    ? `Load average (1 min) during the run: ${Math.min(...load).toFixed(1)} to ${Math.max(...load).toFixed(1)}, median ${median(load).toFixed(1)}${median(load) > m.cores ? `: the machine was shared with other work (more runnable processes than its ${m.cores} cores), so every figure is noisy and slower than on a quiet machine` : ''}.`
    : '';
  const lines = [
    '# Performance',
    '',
    `Measured by \`npm run bench\` (bench/run.ts) on ${results.date}. Command: \`${results.command}\` (${s(results.totalMs)} s in all).`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores (\`nproc\`), ${m.memoryGiB} GiB memory, ${m.os}, Node ${m.node}. ${loadLine}`,
    `Servers, side by side: ${results.servers.map((x) => x.server).join(' and ')} for the data-flow and processing databases (one node, on loopback, started by the benchmark: Apache CouchDB from the kit beside the repository), PostgreSQL for RATDB.`,
    ...results.notes.map((note) => `${note}`),
    '',
    `Workload: Physics runs with ${results.subruns} subruns each, files of both L1 and L2 registered (6 data-flow documents a run), every RATDB table present; 2 modules per run (Processing, then Analysis linked to it), so 2 job documents per run. Each size has fresh databases, seeded by parallel raw \`_bulk_docs\`; then \`oproc init\` builds the views (timed: "views built"), before oproc is timed.`,
    '',
    `Wall time is from spawning \`node bin/run.js reprocess range CONFIG RATV L2 FIRST LAST --json\` to its exit (start-up included). Peak RSS: ${rssMethod}. The raw baseline writes the same job documents (oproc's own, copied per run) by \`_bulk_docs\` into a fresh database on the same server, in the same benchmark run, cut as the sweep below found fastest on that server, after the size's own databases are deleted (the server would otherwise still be indexing oproc's job documents while the baseline writes). It is taken twice: into a database with no design document (the target's baseline), and into one holding oproc's processing views, which the server keeps up to date while the documents arrive, as it does while oproc writes.`,
    '',
    '## Figures',
    '',
    ...sizeTable(results),
    '',
    ...cpuTable(results),
    '',
    '![time against number of runs](performance.svg)',
    '',
    ...sweepLines(results),
    ...otherFigures(results),
    '',
    '## Targets',
    '',
    '| server | target | limit | measured | |',
    '|---|---|---|---:|---|',
    ...[
      ...results.servers.map((server) => ({ name: server.server, list: targets(server, results) })),
      { name: 'PouchDB + PGlite (embedded)', list: embeddedTargets(results) },
    ].flatMap(({ name, list }) =>
      list.map(
        (t) =>
          `| ${name} | ${t.name} | ${t.limit} | ${t.measured === undefined ? '–' : `${t.measured.toFixed(2)}${t.unit}`} | ${verdict(t)} |`,
      ),
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
