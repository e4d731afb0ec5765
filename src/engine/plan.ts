import type { DocumentStore, Ratdb, StoredDocument, TableRequirement } from '../backends/types.js';
import type { RunData } from './dataflow.js';
import { jobProblem, readJobDocuments, type PassIntent } from './jobs.js';
import { runTypeNames } from './run-type.js';
import {
  ids,
  type FileType,
  type JobDocument,
  type ModuleDefinition,
  type Pass,
  type PassBody,
  type ProcessingInformation,
  type RunNumber,
  type Selector,
  type SubJob,
  type SubmissionMode,
} from './types.js';

/** How passes are made: the flags of DESIGN.md 3 that shape a plan. */
export interface PlanOptions {
  ratv: string;
  filetype: FileType;
  ratdbTag: string | null;
  /** Reads of RATDB see only rows up to this time (the tag's timestamp). */
  asOf?: Date;
  /** `-N`: these modules instead of the selector's. */
  modules?: readonly string[];
  skipRatdbCheck: boolean;
  findPrereq: boolean;
  prereqRatv?: string;
  forcePrereqPass: Readonly<Record<string, number>>;
  submission: string;
  mode: SubmissionMode;
  createdBy: string;
  /** Writes nothing: conflicted job documents are merged in memory only. */
  dryRun?: boolean;
}

export interface PlanContext {
  info: ProcessingInformation;
  selector: Selector;
  ratdb: Ratdb;
  processing: DocumentStore;
  now: () => Date;
}

/** Why a run or module got no pass. `ratdb` and `no-run-type` are retried by watchers. */
export type SkipKind =
  | 'no-files'
  | 'ratdb'
  | 'no-run-type'
  | 'prerequisite'
  | 'selection'
  | 'locked'
  | 'incomplete'
  | 'no-data'
  | 'write';

export interface Skip {
  run: RunNumber;
  module?: string;
  kind: SkipKind;
  reason: string;
}

/** One module of one run to create, with prerequisites to link: a number, or this submission's pass. */
export interface PlannedModule {
  module: string;
  /** 0 for modules with no prerequisite in this submission, else one more than the deepest. */
  depth: number;
  prerequisites: { module: string; pass?: number }[];
  /** The pass in the order DESIGN.md 1.3 shows it; `prerequisites` is filled in when written. */
  body: PassBody;
}

export interface RunPlan {
  run: RunNumber;
  runtype?: number;
  runTypeNames: string[];
  /** The modules `-N` or the selector chose (known ones), before the table and prerequisite checks. */
  selected: string[];
  /** Per selected module, the RATDB tables it requires and those missing for the run (none with `-s`). */
  tables: { module: string; required: string[]; missing: string[] }[];
  modules: PlannedModule[];
  skips: Skip[];
}

/** Fields of a module definition that are oproc's or resolved per pass, so not copied verbatim. */
const notCopied = new Set([
  'type',
  'prerequisites',
  'ratdb_tables',
  'raw_processor',
  'level',
  'path',
  'outputs',
]);

/** Parses `TYPE` or `TYPE[index]`. */
export function parseTable(text: string): TableRequirement {
  const match = /^([^[\]]+)\[([^\]]*)\]$/.exec(text);
  return match ? { type: match[1]!, index: match[2]! } : { type: text };
}

/** The tables the named modules need, each once (unknown names need none). */
function tableRequirements(names: Iterable<string>, info: ProcessingInformation): TableRequirement[] {
  const tables = new Map<string, TableRequirement>();
  for (const name of names)
    for (const t of info.processing_modules[name]?.ratdb_tables ?? []) tables.set(t, parseTable(t));
  return [...tables.values()];
}

/** Modules in an order where each comes after its prerequisites (definition order otherwise). */
function topological(names: readonly string[], info: ProcessingInformation): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string) => {
    if (order.includes(name) || visiting.has(name)) return;
    visiting.add(name);
    for (const p of info.processing_modules[name]?.prerequisites ?? []) if (names.includes(p)) visit(p);
    order.push(name);
  };
  names.forEach(visit);
  return order;
}

function subjobsFor(definition: ModuleDefinition, subruns: readonly number[]): SubJob[] {
  if (definition.level === 'sub_run') return subruns.map((subrun) => ({ subrun, status: 'waiting' }));
  return [{ subrun: null, status: 'waiting' }];
}

/** The newest pass of a job document, optionally of one RAT version. */
function newestPass(doc: StoredDocument | undefined, ratv?: string): number | undefined {
  if (!doc || jobProblem(doc)) return undefined;
  const passes = (doc as JobDocument).passes.filter((p) => ratv === undefined || p.ratv === ratv);
  return passes.length ? Math.max(...passes.map((p) => p.pass)) : undefined;
}

/**
 * A batch's run types and, unless the check is skipped, the tables present for every module that
 * may be chosen for it (`-N`'s, or every module the processing information names), in one RATDB
 * query where the backend has `runTypesAndTables`; otherwise the run types alone, and the tables of
 * the modules chosen are read after the selection.
 */
async function readRatdb(
  numbers: readonly RunNumber[],
  options: PlanOptions,
  context: PlanContext,
): Promise<{ runTypes: Map<RunNumber, number>; present?: Map<RunNumber, Set<string>> }> {
  const { ratdb, info } = context;
  if (options.skipRatdbCheck || !ratdb.runTypesAndTables)
    return { runTypes: await ratdb.runTypes(numbers, options.asOf) };
  const tables = tableRequirements(options.modules ?? Object.keys(info.processing_modules), info);
  return ratdb.runTypesAndTables(numbers, tables, options.asOf);
}

/**
 * Plans one batch of runs: run types and table checks in one RATDB query (see `readRatdb`), the job
 * documents needed for prerequisites in one read. Returns the plans and the documents read (for the
 * writer).
 */
export async function planBatch(
  runs: readonly RunData[],
  options: PlanOptions,
  context: PlanContext,
): Promise<{ plans: RunPlan[]; known: Map<string, StoredDocument> }> {
  const { info } = context;
  const numbers = runs.map((r) => r.run);
  const facts = await readRatdb(numbers, options, context);
  const { runTypes } = facts;

  // 1. Selection: -N, or the selector over the run type word's set bits.
  const selected = new Map<RunNumber, string[]>();
  const plans = new Map<RunNumber, RunPlan>();
  for (const data of runs) {
    const runtype = runTypes.get(data.run);
    const plan: RunPlan = {
      run: data.run,
      runtype,
      runTypeNames: runtype === undefined ? [] : runTypeNames(runtype),
      selected: [],
      tables: [],
      modules: [],
      skips: [],
    };
    plans.set(data.run, plan);
    if (data.subruns.length === 0) {
      plan.skips.push({
        run: data.run,
        kind: 'no-files',
        reason: `no ${options.filetype} files registered for the run`,
      });
      continue;
    }
    if (options.modules) {
      selected.set(data.run, [...options.modules]);
      plan.selected = [...options.modules];
      continue;
    }
    if (runtype === undefined) {
      plan.skips.push({
        run: data.run,
        kind: 'no-run-type',
        reason: 'no RUN table in RATDB for the run, so its run type is unknown',
      });
      continue;
    }
    const chosen = await context.selector(
      { run: data.run, runtype, run_type_names: plan.runTypeNames },
      info,
    );
    const unknown = chosen.filter((m) => !info.processing_modules[m]);
    if (unknown.length) {
      plan.skips.push({
        run: data.run,
        kind: 'selection',
        reason: `the selector chose unknown module(s) ${unknown.join(', ')}`,
      });
    }
    const known = [...new Set(chosen.filter((m) => info.processing_modules[m]))];
    if (known.length === 0 && unknown.length === 0) {
      plan.skips.push({
        run: data.run,
        kind: 'selection',
        reason: `no module runs for run type ${plan.runTypeNames.join('+') || runtype}`,
      });
    }
    selected.set(data.run, known);
    plan.selected = known;
  }

  // 2. RATDB tables each selected module needs: read with the run types, or one query for the batch.
  const missing = new Map<string, string[]>();
  if (!options.skipRatdbCheck) {
    const present =
      facts.present ??
      (await context.ratdb.tablesPresent(
        [...selected.keys()],
        tableRequirements([...selected.values()].flat(), info),
        options.asOf,
      ));
    for (const [run, names] of selected) {
      const have = present.get(run) ?? new Set<string>();
      for (const name of names) {
        const required = info.processing_modules[name]!.ratdb_tables;
        const lacking = required.filter((t) => !have.has(t));
        if (lacking.length) missing.set(`${run} ${name}`, lacking);
        plans.get(run)!.tables.push({ module: name, required: [...required], missing: lacking });
      }
    }
  }

  // 3. Job documents of the selected modules and their prerequisites, one read.
  const wanted = new Set<string>();
  for (const [run, names] of selected) {
    for (const name of names) {
      wanted.add(ids.job(run, name));
      for (const p of info.processing_modules[name]!.prerequisites) wanted.add(ids.job(run, p));
    }
  }
  const known = wanted.size
    ? await readJobDocuments(context.processing, wanted, [...selected.keys()], { dryRun: options.dryRun })
    : new Map<string, StoredDocument>();

  // 4. Per run: modules in prerequisite order, with prerequisites resolved.
  const created = context.now().toISOString();
  for (const data of runs) {
    const plan = plans.get(data.run)!;
    const names = selected.get(data.run);
    if (!names) continue;
    const planned = new Map<string, PlannedModule>();
    for (const name of topological(names, info)) {
      const definition = info.processing_modules[name]!;
      const lacking = missing.get(`${data.run} ${name}`);
      if (lacking) {
        plan.skips.push({
          run: data.run,
          module: name,
          kind: 'ratdb',
          reason: `RATDB table(s) missing: ${lacking.join(', ')}`,
        });
        continue;
      }
      const resolved = resolvePrerequisites(data.run, definition, planned, names, known, options);
      if ('reason' in resolved) {
        plan.skips.push({ run: data.run, module: name, kind: 'prerequisite', reason: resolved.reason });
        continue;
      }
      const extras = Object.fromEntries(Object.entries(definition).filter(([key]) => !notCopied.has(key)));
      const entry: PlannedModule = {
        module: name,
        depth: resolved.depth,
        prerequisites: resolved.prerequisites,
        body: {
          ratv: options.ratv,
          filetype: options.filetype,
          ratdb_tag: options.ratdbTag,
          status: 'waiting',
          level: definition.level,
          path: definition.path,
          outputs: [...definition.outputs],
          prerequisites: [],
          subjobs: subjobsFor(definition, data.subruns),
          submission: options.submission,
          mode: options.mode,
          created,
          created_by: options.createdBy,
          ...extras,
        },
      };
      planned.set(name, entry);
      plan.modules.push(entry);
    }
  }
  return { plans: [...plans.values()], known };
}

function resolvePrerequisites(
  run: RunNumber,
  definition: ModuleDefinition,
  planned: Map<string, PlannedModule>,
  selected: readonly string[],
  known: Map<string, StoredDocument>,
  options: PlanOptions,
): { prerequisites: PlannedModule['prerequisites']; depth: number } | { reason: string } {
  const prerequisites: PlannedModule['prerequisites'] = [];
  let depth = 0;
  for (const prerequisite of definition.prerequisites) {
    const doc = known.get(ids.job(run, prerequisite));
    const forced = options.forcePrereqPass[prerequisite];
    if (forced !== undefined) {
      const exists = doc && !jobProblem(doc) && (doc as JobDocument).passes.some((p) => p.pass === forced);
      if (!exists)
        return { reason: `forced prerequisite pass ${prerequisite}=${forced} does not exist for run ${run}` };
      prerequisites.push({ module: prerequisite, pass: forced });
      continue;
    }
    const same = planned.get(prerequisite);
    if (same) {
      prerequisites.push({ module: prerequisite });
      depth = Math.max(depth, same.depth + 1);
      continue;
    }
    if (selected.includes(prerequisite)) {
      // Said alike of a submission and of `oproc why`, which plans outside any: the prerequisite's own skip says why.
      return { reason: `prerequisite ${prerequisite} gets no pass for the run` };
    }
    if (!options.findPrereq) {
      return {
        reason: `prerequisite ${prerequisite} is not created in this submission (add -N ${prerequisite}, or -f to link its newest pass)`,
      };
    }
    const ratv = options.prereqRatv ?? options.ratv;
    const newest = newestPass(doc, ratv);
    if (newest === undefined)
      return { reason: `no pass of ${prerequisite} with RAT ${ratv} exists for run ${run} to link (-f)` };
    prerequisites.push({ module: prerequisite, pass: newest });
  }
  return { prerequisites, depth };
}

/** Turns planned modules of one depth into intents, linking prerequisites created in this submission. */
export function intentsAtDepth(
  plans: readonly RunPlan[],
  depth: number,
  createdPass: (run: RunNumber, module: string) => number | undefined,
): { intents: PassIntent[]; unresolved: Skip[] } {
  const intents: PassIntent[] = [];
  const unresolved: Skip[] = [];
  for (const plan of plans) {
    for (const m of plan.modules) {
      if (m.depth !== depth) continue;
      const prerequisites: Pass['prerequisites'] = [];
      let missingPrerequisite: string | undefined;
      for (const p of m.prerequisites) {
        const pass = p.pass ?? createdPass(plan.run, p.module);
        if (pass === undefined) missingPrerequisite = p.module;
        else prerequisites.push({ module: p.module, pass });
      }
      if (missingPrerequisite) {
        unresolved.push({
          run: plan.run,
          module: m.module,
          kind: 'prerequisite',
          reason: `prerequisite ${missingPrerequisite} could not be written in this submission`,
        });
        continue;
      }
      intents.push({ run: plan.run, module: m.module, pass: { ...m.body, prerequisites } });
    }
  }
  return { intents, unresolved };
}
