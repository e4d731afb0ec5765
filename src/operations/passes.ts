/**
 * `oproc passes`: which passes the processing database holds, filtered by run, module, status,
 * RAT version and submission, or exactly those an outlist names. Reads in bounded requests only:
 * job documents by id in chunks, or the `oproc/jobs_by_run` view page by page.
 */
import type { DocumentStore, StoredDocument } from '../backends/types.js';
import { usageError } from '../errors.js';
import { clusters } from '../engine/dataflow.js';
import { processingDesign } from '../engine/design.js';
import { viewPages } from '../engine/view-pages.js';
import { jobProblem } from '../engine/jobs.js';
import type { OutlistEntry } from '../engine/outlist.js';
import {
  ids,
  passStatuses,
  type JobDocument,
  type Pass,
  type PassStatus,
  type RunNumber,
} from '../engine/types.js';

/** Where the job documents come from: exactly an outlist's passes, given runs, or a run range. */
export type PassSource =
  | { kind: 'exactly'; entries: readonly OutlistEntry[] }
  | { kind: 'runs'; runs: readonly RunNumber[] }
  | { kind: 'range'; from?: RunNumber; to?: RunNumber };

export interface PassSelection {
  source: PassSource;
  modules?: readonly string[];
  statuses?: readonly PassStatus[];
  ratv?: string;
  submission?: string;
}

/** One pass with the run and module of its job document. */
export type PassRow = { run: RunNumber; module: string } & Pass;

/** An outlist line whose pass is not in the processing database. */
export interface MissingPass extends OutlistEntry {
  reason: string;
}

/** A document skipped because its shape is not a job document's. */
export interface DocumentWarning {
  id: string;
  problem: string;
}

export interface PassListing {
  passes: PassRow[];
  missing: MissingPass[];
  warnings: DocumentWarning[];
}

export interface ReadLimits {
  /** Ids per `getMany` request. */
  chunkSize: number;
  /** Rows per view page. */
  pageSize: number;
}

const defaultLimits: ReadLimits = { chunkSize: 1000, pageSize: 1000 };
const maxRun = 2 ** 31 - 1;
/** Runs closer than this are read as one view range rather than one range each. */
const clusterGap = 64;
const jobsView = 'jobs_by_run';
const passesView = 'pass_ids_by_status';

/** `--status` values, case-insensitive, into the experiment's spelling; anything else is a usage error. */
export function parseStatuses(values: readonly string[] | undefined): PassStatus[] | undefined {
  if (!values?.length) return undefined;
  return values.map((value) => {
    const status = passStatuses.find((s) => s.toLowerCase() === value.trim().toLowerCase());
    if (!status) {
      throw usageError(`--status "${value}" is not a pass status (valid: ${passStatuses.join(', ')})`);
    }
    return status;
  });
}

/** Reads the selected passes, sorted by run, module and pass. */
export async function listPasses(
  store: DocumentStore,
  selection: PassSelection,
  limits: ReadLimits = defaultLimits,
): Promise<PassListing> {
  const warnings: DocumentWarning[] = [];
  const accept = (doc: StoredDocument): JobDocument | undefined => {
    const problem = jobShapeProblem(doc);
    if (problem) warnings.push({ id: doc._id, problem });
    return problem ? undefined : (doc as JobDocument);
  };
  const keep = passFilter(selection);
  const { source } = selection;
  const jobs = await readSourceDocuments(store, source, selection.modules, limits);
  if (source.kind === 'exactly') {
    const { passes, missing } = exactPasses(source.entries, new Map(jobs.map((d) => [d._id, d])), accept);
    return { passes: sortPasses(passes.filter(keep)), missing, warnings };
  }
  const passes = jobs
    .map(accept)
    .filter((doc): doc is JobDocument => doc !== undefined)
    .flatMap(rowsOf);
  return { passes: sortPasses(passes.filter(keep)), missing: [], warnings };
}

/**
 * The stored job documents (with their revisions) a source names: an outlist's job documents by id,
 * given runs (by id when `modules` are exact names), or a run range through the view. Documents of
 * the runs but not the modules may be included; callers filter.
 */
export async function readSourceDocuments(
  store: DocumentStore,
  source: PassSource,
  modules: readonly string[] | undefined,
  limits: ReadLimits = defaultLimits,
  passes?: PassIndex,
): Promise<StoredDocument[]> {
  if (source.kind === 'exactly')
    return [...(await readByIds(store, uniqueJobIds(source.entries), limits.chunkSize)).values()];
  if (source.kind === 'runs') return readRuns(store, source.runs, modules, limits);
  if (passes) return readByStatus(store, passes, source.from ?? 0, source.to ?? maxRun, limits);
  return readRange(store, source.from ?? 0, source.to ?? maxRun, limits.pageSize);
}

/** A run range read only for the job documents holding a pass of `ratv` in one of `statuses`. */
export interface PassIndex {
  ratv: string;
  statuses: readonly string[];
}

/**
 * The job documents of runs `first..last` with a pass of the RAT version in one of the statuses:
 * the ids from the `oproc/pass_ids_by_status` view page by page, one key range per status, then the
 * documents by id (`getMany`); a document with several such passes comes once. Costs by the passes
 * in those statuses, not by the job documents of the range. Not the view with `include_docs`:
 * CouchDB opens one document after another for it (10,000 documents in 2.5 s on Apache CouchDB
 * 3.5, against 0.13 s for the ids and 0.55 s for the documents by `_bulk_get`).
 */
async function readByStatus(
  store: DocumentStore,
  index: PassIndex,
  first: RunNumber,
  last: RunNumber,
  limits: ReadLimits,
): Promise<StoredDocument[]> {
  const wanted = new Set<string>();
  for (const status of new Set(index.statuses)) {
    const range = {
      startkey: [index.ratv, status, first],
      endkey: [index.ratv, status, last, {}],
      pageSize: limits.pageSize,
    };
    for await (const rows of viewPages(store, processingDesign.name, passesView, range))
      for (const row of rows) wanted.add(row.id);
  }
  return [...(await store.getMany([...wanted])).values()];
}

/** The view's map function already checks type, run and module; this also guards direct reads. */
export function jobShapeProblem(doc: StoredDocument): string | undefined {
  if (typeof doc.run !== 'number' || !Number.isInteger(doc.run)) return 'has no integer run';
  if (typeof doc.module !== 'string') return 'has no module name';
  return jobProblem(doc);
}

function rowsOf(doc: JobDocument): PassRow[] {
  return doc.passes.map((pass) => ({ run: doc.run, module: doc.module, ...pass }));
}

function passFilter(selection: PassSelection): (row: PassRow) => boolean {
  const { source, modules, statuses, ratv, submission } = selection;
  const runs = source.kind === 'runs' ? new Set(source.runs) : undefined;
  return (row) =>
    (!runs || runs.has(row.run)) &&
    (!modules?.length || modules.includes(row.module)) &&
    (!statuses?.length || (statuses as readonly string[]).includes(row.status)) &&
    (ratv === undefined || row.ratv === ratv) &&
    (submission === undefined || row.submission === submission);
}

export function sortPasses<Row extends { run: RunNumber; module: string; pass: number }>(rows: Row[]): Row[] {
  return rows.sort((a, b) => a.run - b.run || compareText(a.module, b.module) || a.pass - b.pass);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function uniqueJobIds(entries: readonly OutlistEntry[]): string[] {
  return [...new Set(entries.map((e) => ids.job(e.run, e.module)))];
}

/** Each outlist line's pass, once, and the lines whose pass does not exist. */
export function exactPasses(
  entries: readonly OutlistEntry[],
  docs: Map<string, StoredDocument>,
  accept: (doc: StoredDocument) => JobDocument | undefined,
): { passes: PassRow[]; missing: MissingPass[] } {
  const checked = new Map<string, JobDocument | undefined>();
  const seen = new Set<string>();
  const passes: PassRow[] = [];
  const missing: MissingPass[] = [];
  for (const entry of entries) {
    const id = ids.job(entry.run, entry.module);
    const stored = docs.get(id);
    if (stored && !checked.has(id)) checked.set(id, accept(stored));
    const job = checked.get(id);
    const pass = job?.passes.find((p) => p.pass === entry.pass);
    if (!pass) {
      missing.push({ ...entry, reason: whyMissing(id, stored, job) });
      continue;
    }
    const key = `${id}#${entry.pass}`;
    if (seen.has(key)) continue;
    seen.add(key);
    passes.push({ run: job!.run, module: job!.module, ...pass });
  }
  return { passes, missing };
}

function whyMissing(id: string, stored: StoredDocument | undefined, job: JobDocument | undefined): string {
  if (!stored) return `no job document ${id}`;
  if (!job) return `job document ${id} is not a valid job document`;
  const numbers = job.passes.map((p) => p.pass).sort((a, b) => a - b);
  return numbers.length ? `${id} has passes ${numbers.join(', ')}` : `${id} has no passes`;
}

/** Documents by id, `chunkSize` ids per request. */
async function readByIds(
  store: DocumentStore,
  wanted: readonly string[],
  chunkSize: number,
): Promise<Map<string, StoredDocument>> {
  const found = new Map<string, StoredDocument>();
  for (let i = 0; i < wanted.length; i += chunkSize) {
    const chunk = await store.getMany(wanted.slice(i, i + chunkSize));
    for (const [id, doc] of chunk) found.set(id, doc);
  }
  return found;
}

/**
 * The job documents of given runs: by id when the modules are given; otherwise the module names are
 * unknown, so nearby runs are read together as view ranges (one range per cluster, not per run).
 */
async function readRuns(
  store: DocumentStore,
  runs: readonly RunNumber[],
  modules: readonly string[] | undefined,
  limits: ReadLimits,
): Promise<StoredDocument[]> {
  if (modules?.length) {
    const wanted = [...new Set(runs)].flatMap((run) => modules.map((module) => ids.job(run, module)));
    return [...(await readByIds(store, wanted, limits.chunkSize)).values()];
  }
  const wanted = new Set(runs);
  const docs: StoredDocument[] = [];
  for (const [first, last] of clusters(
    [...wanted].sort((a, b) => a - b),
    clusterGap,
  )) {
    for (const doc of await readRange(store, first, last, limits.pageSize)) {
      if (wanted.has(doc.run as RunNumber)) docs.push(doc);
    }
  }
  return docs;
}

/** Job documents of runs `first..last` through the view, one page at a time. */
async function readRange(
  store: DocumentStore,
  first: RunNumber,
  last: RunNumber,
  pageSize: number,
): Promise<StoredDocument[]> {
  const docs: StoredDocument[] = [];
  const range = { startkey: [first], endkey: [last, {}], pageSize, includeDocs: true };
  for await (const rows of viewPages(store, processingDesign.name, jobsView, range))
    for (const row of rows) if (row.doc) docs.push(row.doc);
  return docs;
}
