/** The domain of oproc, in the experiment's words (DESIGN.md 1–2). */

export type RunNumber = number;
export type FileType = 'L1' | 'L2';
export const fileTypes: readonly FileType[] = ['L1', 'L2'];

/** Job statuses, spelled as the experiment's grid tools spell them. oproc creates `waiting`. */
export const passStatuses = [
  'waiting',
  'new',
  'submitted',
  'running',
  'completed',
  'failed',
  'partFail',
  'unsatisfied',
  'canceled',
  'deleted',
] as const;
export type PassStatus = (typeof passStatuses)[number];

export type ModuleLevel = 'sub_run' | 'run' | 'run_zdab' | 'run_root';

/** One module of a RAT version's processing information (experiment field names; others kept). */
export interface ModuleDefinition {
  type: string;
  level: ModuleLevel;
  path: string;
  outputs: string[];
  prerequisites: string[];
  raw_processor: boolean;
  /** oproc's addition: RATDB tables the module needs, `TYPE` or `TYPE[index]`. */
  ratdb_tables: string[];
  [field: string]: unknown;
}

/** What runs for which run type, for one RAT version (DESIGN.md 2). */
export interface ProcessingInformation {
  ratv: string;
  processing_modules: Record<string, ModuleDefinition>;
  /** Run type name (a bit mnemonic) to module names. */
  modules_for_run_type: Record<string, string[]>;
}

/** The run a selector decides for. */
export interface RunForSelection {
  run: RunNumber;
  runtype: number;
  run_type_names: string[];
}

/** Chooses the modules for a run; the default is `run-type` (union over the set bits). */
export type Selector = (run: RunForSelection, info: ProcessingInformation) => string[] | Promise<string[]>;

/** What an `oproc:modules` hook returns (DESIGN.md 6: a fixed, public shape). */
export interface ModulesContribution {
  processing_information?: ProcessingInformation[];
  selectors?: Record<string, Selector>;
}

export interface SubJob {
  subrun: number | null;
  status: PassStatus | string;
  [field: string]: unknown;
}

export interface Prerequisite {
  module: string;
  pass: number;
}

/** The fields every pass has (DESIGN.md 1.3), apart from its number and prerequisites. */
export interface PassFields {
  ratv: string;
  filetype: FileType;
  ratdb_tag: string | null;
  status: PassStatus | string;
  level: ModuleLevel;
  path: string;
  outputs: string[];
  subjobs: SubJob[];
  submission: string;
  mode: SubmissionMode;
  created: string;
  created_by: string;
}

/** A pass before it has a number: what a plan writes. Fields the module definition adds are copied in. */
export type PassBody = PassFields & { prerequisites: Prerequisite[]; [field: string]: unknown };

/** One pass of a job document (DESIGN.md 1.3). */
export type Pass = PassBody & { pass: number };

export interface JobDocument {
  _id: string;
  _rev?: string;
  type: 'job';
  run: RunNumber;
  module: string;
  passes: Pass[];
  [field: string]: unknown;
}

export type SubmissionMode = 'watch' | 'block' | 'range' | 'after' | 'one-shot' | 'runlist';

export type Calibration = 'PCA' | 'ECA';
export const calibrations: readonly Calibration[] = ['PCA', 'ECA'];

export interface CalibrationLock {
  _id: string;
  _rev?: string;
  type: 'calibration_lock';
  calibration: Calibration;
  run: RunNumber;
  locked: boolean;
  validto: RunNumber | null;
  set_at: string;
  released_at: string | null;
  released_by: string | null;
  [field: string]: unknown;
}

/** Document ids of DESIGN.md 1.3. */
export const ids = {
  job: (run: RunNumber, module: string) => `job_${run}_${module}`,
  submission: (id: string) => `submission_${id}`,
  watchState: (ratv: string, filetype: FileType) => `watch_${ratv}_${filetype}`,
  lease: (ratv: string, filetype: FileType) => `lease_watch_${ratv}_${filetype}`,
  calibrationLock: (calibration: Calibration) => `calibration_lock_${calibration}`,
};

/** How the ids of oproc's own documents begin: every id `ids` makes starts with one of these. */
export const ownIdPrefixes: readonly string[] = [
  'job_',
  'submission_',
  'watch_',
  'lease_',
  'calibration_lock_',
];
