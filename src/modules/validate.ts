import { z } from 'zod';

import { isRunTypeName } from '../engine/run-type.js';
import type { ModuleDefinition, ProcessingInformation } from '../engine/types.js';
import { usageError } from '../errors.js';

export const moduleLevels = ['sub_run', 'run', 'run_zdab', 'run_root'] as const;

/** `TYPE` or `TYPE[index]`, as RATDB names tables. */
const ratdbTablePattern = /^[A-Za-z_][A-Za-z0-9_]*(\[[^[\]\s]+\])?$/;

const names = z.array(z.string().min(1, 'must not be empty'));

/** One module; fields the experiment adds (`ganga_outputs`, `nhit_cut`, ...) are kept as given. */
const moduleSchema = z.looseObject({
  type: z.string().min(1).default('macro'),
  level: z.enum(moduleLevels, {
    error: (issue) =>
      issue.input === undefined ? 'is missing' : `must be one of ${moduleLevels.join(', ')}`,
  }),
  path: z.string().min(1, 'must not be empty'),
  outputs: names.default([]),
  prerequisites: names.default([]),
  raw_processor: z.boolean().default(false),
  ratdb_tables: z
    .array(z.string().regex(ratdbTablePattern, 'must look like TYPE or TYPE[index]'))
    .default([]),
});

const informationSchema = z.looseObject({
  ratv: z.string().min(1, 'must not be empty'),
  processing_modules: z.record(z.string().min(1), z.unknown()),
  modules_for_run_type: z.record(z.string(), names).default({}),
});

type Issue = z.core.$ZodIssue;

/** `outputs[1]`, `level`: where in an object an issue is. */
function issuePath(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i > 0 ? '.' : ''}${String(key)}`))
    .join('');
}

function describeIssue(issue: Issue): string {
  const where = issuePath(issue.path);
  const what = issue.code === 'invalid_type' && issue.input === undefined ? 'is missing' : issue.message;
  return where ? `${where}: ${what}` : what;
}

/** The prefix of every message about one source: which source, which RAT version, which module. */
export function where(source: string, ratv?: string, module?: string): string {
  const parts = [`processing information from ${source}`];
  if (ratv !== undefined) parts.push(`ratv ${ratv}`);
  if (module !== undefined) parts.push(`module ${module}`);
  return parts.join(': ');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function validateModule(source: string, ratv: string, name: string, raw: unknown): ModuleDefinition {
  if (!isRecord(raw)) throw usageError(`${where(source, ratv, name)}: must be an object`);
  const parsed = moduleSchema.safeParse(raw);
  if (!parsed.success)
    throw usageError(`${where(source, ratv, name)}: ${describeIssue(parsed.error.issues[0]!)}`);
  return parsed.data as ModuleDefinition;
}

/** Checks what one source says about itself; references across sources are checked after merging. */
export function validateInformation(source: string, raw: unknown, label = ''): ProcessingInformation {
  if (!isRecord(raw))
    throw usageError(`${where(source)}: ${label}must be an object with ratv and processing_modules`);
  const ratv = typeof raw.ratv === 'string' && raw.ratv !== '' ? raw.ratv : undefined;
  const parsed = informationSchema.safeParse(raw);
  if (!parsed.success)
    throw usageError(`${where(source, ratv)}: ${label}${describeIssue(parsed.error.issues[0]!)}`);
  const info = parsed.data;
  const modules: Record<string, ModuleDefinition> = {};
  for (const [name, definition] of Object.entries(info.processing_modules)) {
    modules[name] = validateModule(source, info.ratv, name, definition);
  }
  for (const runType of Object.keys(info.modules_for_run_type)) {
    if (!isRunTypeName(runType)) {
      throw usageError(
        `${where(source, info.ratv)}: modules_for_run_type: "${runType}" is not a run type bit name`,
        'Run type names are the bit mnemonics, e.g. Physics, DeployedSource, TELLIE, PCA.',
      );
    }
  }
  const runTypes = Object.fromEntries(
    Object.entries(info.modules_for_run_type).map(([runType, list]) => [runType, [...new Set(list)]]),
  );
  return { ratv: info.ratv, processing_modules: modules, modules_for_run_type: runTypes };
}

/** One processing-information object, or an array of them (JSON files and plugins may give either). */
export function validateInformationList(source: string, raw: unknown): ProcessingInformation[] {
  if (!Array.isArray(raw)) return [validateInformation(source, raw)];
  return raw.map((entry, i) => validateInformation(source, entry, `[${i}]: `));
}
