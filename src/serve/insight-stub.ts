/**
 * TEMPORARY: stands in for `src/operations/status.ts` and `src/operations/why.ts` until they are
 * merged. Same signatures and shapes; numbers are computed naively. Removed before the last commit.
 */
import type { Databases } from '../backends/registry.js';
import type { DocumentStore, Ratdb } from '../backends/types.js';
import type { OprocConfig } from '../config/load.js';
import type { ModuleCatalog } from '../modules/catalog.js';
import { processingDesign } from '../engine/design.js';
import type { JobDocument, ProcessingInformation, Selector } from '../engine/types.js';

export interface InsightContext {
  processing: DocumentStore;
  dataflow: DocumentStore;
  ratdb: Ratdb;
  now: () => Date;
  leaseSeconds: number;
  processingFor(ratv: string): { info: ProcessingInformation; selector: Selector };
  user: string;
}

export function insightContext(
  db: Pick<Databases, 'processing' | 'dataflow' | 'ratdb'>,
  config: OprocConfig,
  catalog: Pick<ModuleCatalog, 'forRatv' | 'selector'>,
  user = 'oproc-why',
): InsightContext {
  const selector = catalog.selector(config.selector);
  return {
    processing: db.processing,
    dataflow: db.dataflow,
    ratdb: db.ratdb,
    now: () => new Date(),
    leaseSeconds: config.watch.leaseSeconds,
    processingFor: (ratv) => ({ info: catalog.forRatv(ratv), selector }),
    user,
  };
}

export type Counts = Record<string, Record<string, number>>;
export interface StatusReport {
  generated: string;
  ratvs: {
    ratv: string;
    passes: { newest: Counts; all: Counts };
    handled_per_day: { day: string; runs: number; passes: number }[];
    watchers: Record<string, unknown>[];
  }[];
  locks: Record<string, unknown>[];
  submissions: Record<string, unknown>[];
  stale: boolean;
}

export async function readStatus(
  context: InsightContext,
  options: { ratv?: string; now?: Date } = {},
): Promise<StatusReport> {
  const rows = await context.processing.queryView(processingDesign.name, 'jobs_by_run', {
    includeDocs: true,
  });
  const byRatv = new Map<string, StatusReport['ratvs'][number]>();
  const days = new Map<string, Map<string, { runs: Set<number>; passes: number }>>();
  for (const row of rows) {
    const job = row.doc as unknown as JobDocument;
    const newest = new Map<string, string>();
    for (const pass of job.passes) {
      if (options.ratv && pass.ratv !== options.ratv) continue;
      let entry = byRatv.get(pass.ratv);
      if (!entry) {
        entry = { ratv: pass.ratv, passes: { newest: {}, all: {} }, handled_per_day: [], watchers: [] };
        byRatv.set(pass.ratv, entry);
      }
      const all = (entry.passes.all[job.module] ??= {});
      all[pass.status] = (all[pass.status] ?? 0) + 1;
      newest.set(pass.ratv, pass.status);
      const day = pass.created.slice(0, 10);
      const perDay = days.get(pass.ratv) ?? new Map();
      days.set(pass.ratv, perDay);
      const d = perDay.get(day) ?? { runs: new Set<number>(), passes: 0 };
      d.runs.add(job.run);
      d.passes++;
      perDay.set(day, d);
    }
    for (const [ratv, status] of newest) {
      const counts = (byRatv.get(ratv)!.passes.newest[job.module] ??= {});
      counts[status] = (counts[status] ?? 0) + 1;
    }
  }
  for (const [ratv, perDay] of days) {
    byRatv.get(ratv)!.handled_per_day = [...perDay.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([day, d]) => ({ day, runs: d.runs.size, passes: d.passes }));
  }
  const states = await context.processing.allDocs({ startkey: 'watch_', endkey: 'watch_\ufff0' });
  const now = options.now ?? context.now();
  for (const state of states) {
    const entry = byRatv.get(state.ratv as string);
    if (!entry) continue;
    const lease = (await context.processing.getMany([`lease_watch_${state.ratv}_${state.filetype}`])).get(
      `lease_watch_${state.ratv}_${state.filetype}`,
    );
    const heartbeat = (lease?.heartbeat as string | undefined) ?? null;
    const age = heartbeat ? Math.round((now.getTime() - Date.parse(heartbeat)) / 1000) : null;
    entry.watchers.push({
      filetype: state.filetype,
      state: state._id,
      last_run: state.last_run ?? null,
      holder: lease?.holder ?? null,
      host: lease?.host ?? null,
      heartbeat,
      heartbeat_age_seconds: age,
      expires: lease?.expires ?? null,
      stale: age === null || age > context.leaseSeconds,
      newest_complete_run: null,
      backlog: 0,
      backlog_runs: [],
    });
  }
  const lockDocs = await context.processing.getMany(['calibration_lock_PCA', 'calibration_lock_ECA']);
  const locks = [...lockDocs.values()].map((l) => ({
    calibration: l.calibration,
    run: l.run,
    locked: l.locked,
    validto: l.validto ?? null,
    set_at: l.set_at ?? null,
    holds: l.locked === true && (l.validto ?? null) === null,
  }));
  const subs = await context.processing.allDocs({ startkey: 'submission_', endkey: 'submission_\ufff0' });
  const submissions = subs
    .map((s) => ({
      id: s._id.slice('submission_'.length),
      mode: s.mode,
      ratv: s.ratv,
      filetype: s.filetype,
      runs: (s.runs as unknown[]).length,
      done: (s.done as unknown[]).length,
      started: s.started,
      finished: s.finished ?? null,
    }))
    .sort((a, b) => String(b.started).localeCompare(String(a.started)))
    .slice(0, 10);
  const ratvs = [...byRatv.values()].sort((a, b) => a.ratv.localeCompare(b.ratv));
  return {
    generated: now.toISOString(),
    ratvs,
    locks,
    submissions,
    stale: ratvs.some((r) => r.watchers.some((w) => w.stale === true)),
  };
}

export interface WhyReport {
  verdict: string;
  [section: string]: unknown;
}

export async function explainRun(
  context: InsightContext,
  options: { ratv: string; filetype: string; run: number; ratdbTag?: string | null },
): Promise<WhyReport> {
  const rows = await context.processing.queryView(processingDesign.name, 'jobs_by_run', {
    startkey: [options.run],
    endkey: [options.run, {}],
    includeDocs: true,
  });
  const passes = rows.flatMap((r) =>
    (r.doc as unknown as JobDocument).passes.map((p) => ({
      module: r.doc!.module,
      pass: p.pass,
      status: p.status,
    })),
  );
  return {
    run: options.run,
    ratv: options.ratv,
    filetype: options.filetype,
    passes,
    verdict: passes.length ? `handled: ${passes.length} pass(es) exist` : 'not handled yet',
  };
}
