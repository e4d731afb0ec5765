import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';

import { OprocError, usageError } from '../errors.js';
import { maskUrl } from '../util/mask.js';

/** One database section of CONFIG. The core checks the common keys; each backend checks its own. */
const sectionSchema = z
  .looseObject({
    backend: z.string().min(1, 'names no backend'),
    url: z.string().min(1).optional(),
    /** Nodes of one CouchDB cluster, tried in order (instead of `url`). */
    urls: z.array(z.string().min(1)).min(1, 'must name at least one node').optional(),
    database: z.string().min(1).optional(),
    path: z.string().min(1).optional(),
    /** The environment variable holding this database's password (default OPROC_<ROLE>_PASSWORD). */
    password_env: z.string().min(1).optional(),
  })
  .refine((section) => !(section.url !== undefined && section.urls !== undefined), {
    message: 'gives both url and urls: give one (urls for the nodes of a cluster)',
    path: ['urls'],
  });

const configSchema = z.looseObject({
  processing: sectionSchema,
  dataflow: sectionSchema,
  ratdb: sectionSchema,
  /** JSON file(s) of processing information, besides what module plugins give. */
  processing_information: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
  /** The module plugins whose processing information this config uses (default: every installed one). */
  module_plugins: z.array(z.string().min(1, 'must not be empty')).optional(),
  /** The module selector to use (default `run-type`). */
  selector: z.string().min(1).optional(),
  watch: z
    .strictObject({
      interval_seconds: z.number().positive().optional(),
      lease_seconds: z.number().positive().optional(),
      /** No progress for this long stops a watcher (default: three leases, at least an interval plus 150 s). */
      stall_seconds: z.number().positive().optional(),
    })
    .optional(),
});

export type DatabaseRole = 'processing' | 'dataflow' | 'ratdb';
export type DatabaseSection = z.infer<typeof sectionSchema>;

export interface OprocConfig {
  /** The config file, as given. */
  file: string;
  /** Directory that relative paths in the config are taken from. */
  baseDir: string;
  processing: DatabaseSection;
  dataflow: DatabaseSection;
  ratdb: DatabaseSection;
  processingInformationFiles: string[];
  /** The module plugins named in `module_plugins`; undefined when the key is absent (then all installed count). */
  modulePlugins?: string[];
  selector: string;
  watch: { intervalSeconds: number; leaseSeconds: number; stallSeconds?: number };
}

/** A problem in the config: names the file, the key and what is wrong. */
export function configError(file: string, key: string, problem: string) {
  return usageError(`config ${file}: ${key ? `${key}: ` : ''}${problem}`);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) return 'is missing';
  return issue.message.replace(/^Invalid input: /, '');
}

/** Reads, parses and validates CONFIG (JSON or YAML). Throws a usage error naming file, key and problem. */
export async function loadConfig(file: string): Promise<OprocConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw usageError(`cannot read config ${file}: ${unreadable(error)}`);
  }
  const raw = parseConfigText(file, text);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw configError(file, issue.path.join('.'), describeIssue(issue));
  }
  const value = parsed.data;
  const baseDir = path.dirname(path.resolve(file));
  const info = value.processing_information;
  return {
    file,
    baseDir,
    processing: value.processing,
    dataflow: value.dataflow,
    ratdb: value.ratdb,
    processingInformationFiles: (info === undefined ? [] : Array.isArray(info) ? info : [info]).map((p) =>
      path.resolve(baseDir, p),
    ),
    modulePlugins: value.module_plugins === undefined ? undefined : [...new Set(value.module_plugins)],
    selector: value.selector ?? 'run-type',
    watch: {
      intervalSeconds: value.watch?.interval_seconds ?? 30,
      leaseSeconds: value.watch?.lease_seconds ?? 60,
      ...(value.watch?.stall_seconds === undefined ? {} : { stallSeconds: value.watch.stall_seconds }),
    },
  };
}

/** Why a config file could not be read, in words (never a raw system error such as EISDIR). */
function unreadable(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'it is a directory; CONFIG is a file (JSON or YAML)';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return (message ?? String(error)).replace(/^\w+: /, '');
  }
}

function parseConfigText(file: string, text: string): unknown {
  const isJson = file.toLowerCase().endsWith('.json');
  try {
    const value: unknown = isJson
      ? JSON.parse(text)
      : parseYaml(text, { prettyErrors: true, logLevel: 'error' });
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw configError(file, '', 'is not a mapping of sections (processing, dataflow, ratdb)');
    }
    return value;
  } catch (error) {
    if (error instanceof YAMLParseError) {
      const at = error.linePos?.[0];
      const where = at ? ` at line ${at.line}, column ${at.col}` : '';
      throw usageError(`config ${file}: invalid YAML${where}: ${error.message.split('\n')[0]}`);
    }
    if (isJson && error instanceof SyntaxError) {
      throw usageError(`config ${file}: invalid JSON${jsonPosition(text, error.message)}: ${error.message}`);
    }
    if (error instanceof OprocError) throw error;
    // The YAML library reports some problems (an alias to no anchor, say) as other errors.
    throw usageError(
      `config ${file}: invalid YAML: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** Turns JSON.parse's "at position N" into a line and column. */
function jsonPosition(text: string, message: string): string {
  const match = /position (\d+)/.exec(message);
  if (!match) return '';
  const before = text.slice(0, Number(match[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return ` at line ${line}, column ${column}`;
}

/** A section's location for messages, never with a password. */
export function describeSection(section: DatabaseSection): string {
  if (section.urls?.length) return describeSection({ ...section, urls: undefined, url: section.urls[0] });
  if (section.url)
    return maskUrl(section.database ? `${section.url.replace(/\/$/, '')}/${section.database}` : section.url);
  return section.path ?? section.backend;
}
