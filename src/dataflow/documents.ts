import { z } from 'zod';

import type { FileType, RunNumber } from '../engine/types.js';

/** A registered raw-data file (DESIGN.md 1.1). */
export interface FileDocument {
  _id: string;
  type: 'file';
  run: RunNumber;
  subrun: number;
  filetype: FileType;
  name: string;
  size: number;
  checksum: string;
  registered: string;
  [field: string]: unknown;
}

/** The end-of-run marker (DESIGN.md 1.1). */
export interface RunEndDocument {
  _id: string;
  type: 'run_end';
  run: RunNumber;
  subruns: number;
  [field: string]: unknown;
}

export type DataflowDocument = FileDocument | RunEndDocument;

/** Document ids of DESIGN.md 1.1: zero-padded subruns so ids sort by subrun within a run. */
export const dataflowIds = {
  file: (filetype: FileType, run: RunNumber, subrun: number) =>
    `file_${filetype}_${run}_${String(subrun).padStart(3, '0')}`,
  runEnd: (run: RunNumber) => `run_end_${run}`,
};

const run = z.number('must be a number').int('must be an integer').positive('must be a positive integer');
const count = z
  .number('must be a number')
  .int('must be an integer')
  .nonnegative('must be a non-negative integer');
const text = z.string('must be a string').min(1, 'must not be empty');

// Loose objects: extra fields (the experiment's own bookkeeping) are kept as given.
const fileSchema = z.looseObject({
  _id: z.string('must be a string').optional(),
  type: z.literal('file'),
  run,
  subrun: count,
  filetype: z.enum(['L1', 'L2'], 'must be "L1" or "L2"'),
  name: text,
  size: count,
  checksum: text,
  registered: z.iso.datetime({
    offset: true,
    message: 'must be an ISO 8601 date-time (e.g. 2026-11-24T10:00:00Z)',
  }),
});

const runEndSchema = z.looseObject({
  _id: z.string('must be a string').optional(),
  type: z.literal('run_end'),
  run,
  subruns: count,
});

const documentSchema = z.discriminatedUnion('type', [fileSchema, runEndSchema], {
  error: 'must be "file" or "run_end"',
});

/** One problem in one document: where (document index, `_id` when known), which field, what. */
export interface DocumentProblem {
  index: number;
  id?: string;
  field: string;
  problem: string;
}

export type Checked = { ok: true; document: DataflowDocument } | { ok: false; problem: DocumentProblem };

/** Validates one parsed document and derives its `_id`; a given `_id` must be the derived one. */
export function checkDocument(value: unknown, index: number): Checked {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, problem: { index, field: '', problem: 'is not a JSON object' } };
  }
  const givenId =
    typeof (value as { _id?: unknown })._id === 'string' ? (value as { _id: string })._id : undefined;
  const parsed = documentSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || 'type';
    const problem = valueAt(value, issue.path) === undefined ? 'is missing' : issue.message;
    return { ok: false, problem: { index, id: givenId, field, problem } };
  }
  // `_rev` belongs to the database the document came from, not to its content.
  const { _rev: _ignored, ...content } = parsed.data;
  const id =
    content.type === 'file'
      ? dataflowIds.file(content.filetype, content.run, content.subrun)
      : dataflowIds.runEnd(content.run);
  if (givenId !== undefined && givenId !== id) {
    return {
      ok: false,
      problem: { index, id: givenId, field: '_id', problem: `must be "${id}" for this ${content.type}` },
    };
  }
  return { ok: true, document: { _id: id, ...content } as DataflowDocument };
}

/** zod 4 leaves the failing input out of its issues; this looks it up to tell "missing" from "wrong". */
function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
