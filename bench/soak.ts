/**
 * The soak: a watcher and `oproc serve` with a client on its event stream, against pouchdb-server
 * and PostgreSQL, while a run arrives every 2 s (its files written, which completes the run before
 * it). Every minute it reads each process's resident memory, open files and CPU from /proc, and the
 * status page's own figure for its last recompute; at the end it prints the samples and the growth
 * of each process after warm-up, in MB an hour.
 *
 *   npm run bench -- --soak 2h          (or 10m, 90s; the other scenarios are not run)
 *
 * RSS moves with the collections by tens of MB, so a slope of it over two hours says little about
 * what a process keeps. The watcher and `serve` run with --trace-gc, and the soak also reports the
 * heap each full collection (Mark-Compact) leaves, and its slope: what the process still holds.
 *
 * With OPROC_SOAK_HEAP_DIR=DIR, the watcher and `serve` each write a V8 heap snapshot there at the
 * end (SIGUSR2), after the last sample: what a process keeps, to read in Chrome's memory tool. Only
 * at the end: writing a snapshot takes some 100 MB that the process keeps resident afterwards,
 * which would hide the growth the samples measure.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { dataflowDesign, processingDesign } from '../src/engine/design.js';
import { ids } from '../src/engine/types.js';
import { send } from '../test/support/bulk-seed.js';
import { startCouch } from '../test/support/couch-server.js';
import { dataflowDocsFor, ratdbTablesFor } from '../test/support/scenario.js';
import type { RunningServer } from '../test/support/servers.js';
import { startServe } from '../test/support/serve.js';
import { onCleanup, spawnCli, stopChild, treeCpuSeconds } from './processes.js';
import { firstRun, ratv, serverDatabases, withDatabases } from './seed.js';

const subruns = 3;
const arrivalMs = 2000;
const sampleMs = 60_000;
/** Samples before this are warm-up, left out of the growth figure. */
const warmUpMs = 5 * 60_000;

export interface SoakSample {
  minute: number;
  runs: number;
  /** Per process: resident memory (MB), open files, CPU seconds since the start. */
  processes: Record<string, { rssMb: number; openFiles: number; cpuSeconds: number }>;
  /** Per Node process: its heap after its last full collection (MB), or null before the first. */
  liveHeapMb: Record<string, number | null>;
  /** Events the client on the status page's stream has received so far. */
  events: number;
  /** The last run the watcher handled (its watch state), or null before the first. */
  watcherLastRun: number | null;
}

export interface SoakResult {
  durationMs: number;
  samples: SoakSample[];
  /** MB an hour after warm-up (least squares over the samples after it), per process. */
  growthMbPerHour: Record<string, number | undefined>;
  /** MB an hour after warm-up of the heap that full collections leave, per Node process. */
  liveHeapMbPerHour: Record<string, number | undefined>;
  /**
   * MB an hour after warm-up of the lowest heap a full collection left in each 10 minutes, per Node
   * process: the floor, which the idle-time collections that give memory back reach, and which
   * rises only with what the process keeps.
   */
  heapFloorMbPerHour: Record<string, number | undefined>;
  /** Full collections after warm-up that the figures above are fitted to, per Node process. */
  fullCollections: Record<string, number>;
  /** Runs the watcher had to handle (every run but the last, which the next run's files complete). */
  runsDue: number;
  /** Of those, runs with no job document at the end. */
  runsWithoutJobs: number[];
  /** Heap snapshots written (OPROC_SOAK_HEAP_DIR). */
  heapSnapshots: number;
}

/** `2h`, `10m`, `90s` or milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(h|m|s|ms)?$/.exec(text.trim());
  if (!match) throw new Error(`--soak ${text}: a duration such as 2h, 10m or 90s`);
  const unit = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[match[2] ?? 'ms']!;
  return Number(match[1]) * unit;
}

async function processFigures(pid: number): Promise<{ rssMb: number; openFiles: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
  return { rssMb: rss ? Number(rss[1]) / 1024 : 0, openFiles: fds.length };
}

/** Least-squares slope of RSS against time, MB an hour. */
function slope(points: { minute: number; mb: number }[]): number | undefined {
  if (points.length < 2) return undefined;
  const mx = points.reduce((s, p) => s + p.minute, 0) / points.length;
  const my = points.reduce((s, p) => s + p.mb, 0) / points.length;
  const num = points.reduce((s, p) => s + (p.minute - mx) * (p.mb - my), 0);
  const den = points.reduce((s, p) => s + (p.minute - mx) ** 2, 0);
  return den === 0 ? undefined : (num / den) * 60;
}

/** One full collection of a process run with --trace-gc: when (minutes since it started), and the heap it left. */
interface FullCollection {
  minute: number;
  mb: number;
}

/**
 * The full collections in a process's --trace-gc output, as it arrives:
 * `[pid:0x…]  412 ms: Mark-Compact 55.6 (74.2) -> 45.8 (80.3) MB, …`.
 */
function fullCollections(): { feed(text: string): void; all: FullCollection[] } {
  const all: FullCollection[] = [];
  let pending = '';
  return {
    all,
    feed(text) {
      const lines = (pending + text).split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const match = /\s(\d+) ms: Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \(/.exec(line);
        if (match) all.push({ minute: Number(match[1]) / 60_000, mb: Number(match[2]) });
      }
    },
  };
}

/** Minutes of each window whose lowest heap after a full collection is the floor (see SoakResult). */
const floorWindowMinutes = 10;

/** The lowest collection of each window of `minutes`, at its own time. */
function floors(collections: readonly FullCollection[], minutes: number): FullCollection[] {
  const lowest = new Map<number, FullCollection>();
  for (const c of collections) {
    const window = Math.floor(c.minute / minutes);
    const kept = lowest.get(window);
    if (!kept || c.mb < kept.mb) lowest.set(window, c);
  }
  return [...lowest.values()];
}

/** A client on `GET /api/events` that counts what arrives until aborted. */
function eventClient(url: string, signal: AbortSignal): { count(): number } {
  let events = 0;
  void (async () => {
    try {
      const response = await fetch(new URL('/api/events', url), { signal });
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>)
        events += (decoder.decode(chunk, { stream: true }).match(/^data:/gm) ?? []).length;
    } catch {
      // Aborted at the end.
    }
  })();
  return { count: () => events };
}

export async function soak(
  dir: string,
  postgres: RunningServer,
  durationMs: number,
  log: (message: string) => void,
): Promise<SoakResult> {
  const couch = await startCouch();
  onCleanup(`pouchdb-server (PID ${couch.pid})`, () => couch.stop());
  const dbs = await serverDatabases(path.join(dir, 'soak'), couch, postgres, 'soak');
  const runs = Math.ceil(durationMs / arrivalMs) + 10;
  await withDatabases(dbs.config, async (db) => {
    await Promise.all([db.processing.create(), db.dataflow.create(), db.ratdb.create()]);
    await db.processing.ensureDesign(processingDesign);
    await db.dataflow.ensureDesign(dataflowDesign);
    const specs = Array.from({ length: runs }, (_, i) => ({ run: firstRun + i, subruns }));
    for (let i = 0; i < specs.length; i += 2500)
      await db.ratdb.load(specs.slice(i, i + 2500).flatMap(ratdbTablesFor));
    await db.dataflow.bulkWrite(dataflowDocsFor(specs[0]!));
  });
  const heapDir = process.env.OPROC_SOAK_HEAP_DIR;
  const nodeOptions = process.env.NODE_OPTIONS;
  // Made here: a stream's error on a missing directory would end the bench before its cleanup.
  if (heapDir) await mkdir(heapDir, { recursive: true });
  if (heapDir)
    process.env.NODE_OPTIONS = `${nodeOptions ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${heapDir}`;
  const collections = { watcher: fullCollections(), serve: fullCollections() };
  const watcher = spawnCli(
    ['watch', dbs.config, ratv, 'L2', '--start-run', String(firstRun - 1)],
    [],
    ['--trace-gc'],
  );
  watcher.stdout?.setEncoding('utf8').on('data', (text: string) => collections.watcher.feed(text));
  // The watcher's output, kept where the snapshots go (else dropped): what it said before a stall.
  if (heapDir) {
    const out = createWriteStream(path.join(heapDir, 'watcher.log'));
    watcher.stdout?.pipe(out);
    watcher.stderr?.pipe(out);
  } else {
    watcher.stderr?.resume();
  }
  const serve = await startServe(dbs.config, [], ['--trace-gc']);
  onCleanup(`oproc serve (PID ${serve.pid})`, () => serve.stop().then(() => undefined));
  if (heapDir) process.env.NODE_OPTIONS = nodeOptions;
  let serveSeen = 0;
  const serveCollections = () => {
    const { stdout } = serve.output();
    collections.serve.feed(stdout.slice(serveSeen));
    serveSeen = stdout.length;
  };
  let heapSnapshots = 0;
  const snapshot = async () => {
    if (!heapDir) return;
    for (const pid of [watcher.pid!, serve.pid]) process.kill(pid, 'SIGUSR2');
    heapSnapshots += 2;
    await sleep(15_000); // the snapshot pauses the process while it writes
  };
  const abort = new AbortController();
  const client = eventClient(serve.url, abort.signal);
  const pids: Record<string, number> = {
    watcher: watcher.pid!,
    serve: serve.pid,
    'pouchdb-server': couch.pid,
  };
  const cpuAtStart: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) cpuAtStart[name] = await treeCpuSeconds([pid]);
  const samples: SoakSample[] = [];
  const started = performance.now();
  let run = firstRun;
  let nextSample = sampleMs;
  let runsDue = 0;
  const runsWithoutJobs: number[] = [];
  try {
    while (performance.now() - started < durationMs) {
      if (watcher.exitCode !== null) throw new Error(`the watcher exited with ${watcher.exitCode}`);
      run++;
      await send(dbs.dataflow!, 'POST', '/_bulk_docs', { docs: dataflowDocsFor({ run, subruns }) });
      const elapsed = performance.now() - started;
      if (elapsed >= nextSample) {
        const processes: SoakSample['processes'] = {};
        for (const [name, pid] of Object.entries(pids))
          processes[name] = {
            ...(await processFigures(pid)),
            cpuSeconds: (await treeCpuSeconds([pid])) - cpuAtStart[name]!,
          };
        // How far the watcher is: a watcher that stops handling runs while its lease stays alive
        // shows here, not in its memory.
        const state = (await send(
          dbs.processing!,
          'GET',
          `/${encodeURIComponent(ids.watchState(ratv, 'L2'))}`,
        ).catch(() => undefined)) as { last_run?: number } | undefined;
        serveCollections();
        const sample = {
          minute: Math.round(elapsed / 60_000),
          runs: run - firstRun,
          watcherLastRun: state?.last_run ?? null,
          processes,
          liveHeapMb: Object.fromEntries(
            Object.entries(collections).map(([name, c]) => [name, c.all.at(-1)?.mb ?? null]),
          ),
          events: client.count(),
        };
        samples.push(sample);
        log(`soak: ${JSON.stringify(sample)}`);
        nextSample += sampleMs;
      }
      await sleep(Math.max(0, started + (run - firstRun) * arrivalMs - performance.now()));
    }
    await snapshot();
    // Did the watcher keep up? Every run but the last (which no later run's files complete yet).
    await sleep(5000);
    const rows = (await send(
      dbs.processing!,
      'GET',
      `/_all_docs?startkey=${encodeURIComponent('"job_"')}&endkey=${encodeURIComponent('"job_\ufff0"')}`,
    )) as { rows: { id: string }[] };
    const withJobs = new Set(rows.rows.map((r) => Number(/^job_(\d+)_/.exec(r.id)?.[1])));
    for (let r = firstRun; r < run; r++) {
      runsDue++;
      if (!withJobs.has(r)) runsWithoutJobs.push(r);
    }
  } finally {
    abort.abort();
    await serve.stop();
    await stopChild(watcher);
    await send(dbs.dataflow!, 'DELETE').catch(() => undefined);
    await send(dbs.processing!, 'DELETE').catch(() => undefined);
    await couch.stop();
  }
  const growthMbPerHour: SoakResult['growthMbPerHour'] = {};
  for (const name of Object.keys(pids))
    growthMbPerHour[name] = slope(
      samples
        .filter((s) => s.minute * 60_000 >= warmUpMs)
        .map((s) => ({ minute: s.minute, mb: s.processes[name]!.rssMb })),
    );
  const liveHeapMbPerHour: SoakResult['liveHeapMbPerHour'] = {};
  const heapFloorMbPerHour: SoakResult['heapFloorMbPerHour'] = {};
  const fullCollectionsFitted: SoakResult['fullCollections'] = {};
  for (const [name, c] of Object.entries(collections)) {
    const after = c.all.filter((g) => g.minute * 60_000 >= warmUpMs);
    liveHeapMbPerHour[name] = slope(after);
    heapFloorMbPerHour[name] = slope(floors(after, floorWindowMinutes));
    fullCollectionsFitted[name] = after.length;
  }
  return {
    durationMs,
    samples,
    growthMbPerHour,
    liveHeapMbPerHour,
    heapFloorMbPerHour,
    fullCollections: fullCollectionsFitted,
    runsDue,
    runsWithoutJobs,
    heapSnapshots,
  };
}
