/**
 * Watch latency: a watcher runs against the servers; each round writes the files of run N+1 (which
 * completes run N) and times until run N's job documents are readable. The watcher runs with the
 * default interval (30 s): it is woken by the data-flow change feed, so the latency must not depend
 * on the interval.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { send, type HttpDatabase } from '../test/support/bulk-seed.js';
import { dataflowDocsFor, ratdbTablesFor } from '../test/support/scenario.js';
import { dataflowDesign, processingDesign } from '../src/engine/design.js';
import { median, spawnCli, stopChild } from './processes.js';
import { firstRun, ratv, withDatabases, type BenchDatabases } from './seed.js';

export interface WatchLatency {
  rounds: number;
  intervalSeconds: number;
  latenciesMs: number[];
  medianMs: number;
  worstMs: number;
}

const subruns = 3;
const pollMs = 10;
/** Rounds start a random part of this after the previous one, so writes fall at every phase of the watcher's wait. */
const spreadMs = 2000;

/** Polls until the document is readable; returns when it is (or throws after `timeoutMs`). */
async function readable(db: HttpDatabase, id: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const response = await fetch(`${db.url}/${id}`, { headers: db.headers });
    await response.arrayBuffer();
    if (response.ok) return;
    await sleep(pollMs);
  }
  throw new Error(`${db.url}/${id} was not written within ${timeoutMs / 1000} s`);
}

async function prepare(dbs: BenchDatabases, rounds: number): Promise<void> {
  await withDatabases(dbs.config, async (db) => {
    await Promise.all([db.processing.create(), db.dataflow.create(), db.ratdb.create()]);
    await db.processing.ensureDesign(processingDesign);
    await db.dataflow.ensureDesign(dataflowDesign);
    const runs = Array.from({ length: rounds + 3 }, (_, i) => ({ run: firstRun + i, subruns }));
    await db.ratdb.load(runs.flatMap(ratdbTablesFor));
    await db.dataflow.bulkWrite(dataflowDocsFor(runs[0]!));
  });
}

/** Writes run N+1's files and times until run N's Analysis job (written after Processing) is readable. */
async function round(dbs: BenchDatabases, run: number, timeoutMs: number): Promise<number> {
  const started = performance.now();
  await send(dbs.dataflow!, 'POST', '/_bulk_docs', { docs: dataflowDocsFor({ run: run + 1, subruns }) });
  await readable(dbs.processing!, `job_${run}_Analysis`, timeoutMs);
  return performance.now() - started;
}

/** Starts `oproc watch --interval N`, warms it up with one round, then times `rounds` rounds. */
export async function watchLatency(
  dbs: BenchDatabases,
  rounds = 20,
  intervalSeconds = 30,
): Promise<WatchLatency> {
  // Past the interval a poll would have found the run anyway; a round that slow is a failed feed.
  const timeoutMs = (intervalSeconds + 10) * 1000;
  await prepare(dbs, rounds);
  const args = ['watch', dbs.config, ratv, 'L2', '--start-run', String(firstRun - 1)];
  const watcher = spawnCli([...args, '--interval', String(intervalSeconds)]);
  let stderr = '';
  watcher.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  watcher.stdout?.resume();
  try {
    await round(dbs, firstRun, timeoutMs);
    const latenciesMs: number[] = [];
    for (let i = 1; i <= rounds; i++) {
      if (watcher.exitCode !== null)
        throw new Error(`the watcher exited with ${watcher.exitCode}: ${stderr}`);
      await sleep(Math.random() * spreadMs);
      latenciesMs.push(await round(dbs, firstRun + i, timeoutMs));
    }
    return {
      rounds,
      intervalSeconds,
      latenciesMs,
      medianMs: median(latenciesMs),
      worstMs: Math.max(...latenciesMs),
    };
  } finally {
    await stopChild(watcher);
  }
}
