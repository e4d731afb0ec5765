import { userInfo } from 'node:os';

import type { Interfaces } from '@oclif/core';

import { OprocCommand } from '../base-command.js';
import type { Databases } from '../backends/registry.js';
import type { OprocConfig } from '../config/load.js';
import { usageError } from '../errors.js';
import type { EngineContext, PassOptions, Reporter } from '../engine/context.js';
import { fileTypes, type FileType, type ProcessingInformation, type Selector } from '../engine/types.js';
import { leaseHost } from '../engine/lease.js';
import { ModuleCatalog } from '../modules/catalog.js';
import { submissionArgs, submissionFlags } from './flags.js';

export type SubmissionFlags = Interfaces.InferredFlags<typeof submissionFlags>;

/** What every submission command has once its input is checked, before any database is touched. */
export interface Prepared {
  config: OprocConfig;
  info: ProcessingInformation;
  selector: Selector;
  options: PassOptions & { ignoreCalibrationLocks: boolean; dryRun: boolean; outlist?: string };
}

export function parseFiletype(text: string): FileType {
  const upper = text.toUpperCase();
  if ((fileTypes as readonly string[]).includes(upper)) return upper as FileType;
  throw usageError(`FILETYPE must be L1 or L2, not "${text}"`);
}

/** `-N A -N B` or `-N A,B`: the modules, each checked against the RAT version's processing information. */
export function parseModules(
  values: readonly string[] | undefined,
  info: ProcessingInformation,
): string[] | undefined {
  if (!values?.length) return undefined;
  const modules = [...new Set(values.flatMap((v) => v.split(',')).map((m) => m.trim()))];
  const known = Object.keys(info.processing_modules);
  for (const module of modules) {
    if (module === '') throw usageError('-N/--modules: empty module name');
    if (!known.includes(module)) {
      throw usageError(`unknown module "${module}" for RAT ${info.ratv} (known: ${known.join(', ')})`);
    }
  }
  return modules;
}

/** `--force-prereq-pass Processing=3` (repeatable) into `{ Processing: 3 }`. */
export function parseForcedPasses(
  values: readonly string[] | undefined,
  info: ProcessingInformation,
): Record<string, number> {
  const forced: Record<string, number> = {};
  for (const value of values ?? []) {
    const match = /^([^=\s]+)=(\d+)$/.exec(value.trim());
    if (!match) throw usageError(`--force-prereq-pass "${value}": expected MODULE=PASS, e.g. Processing=3`);
    const [, module, pass] = match;
    if (!info.processing_modules[module!]) {
      throw usageError(`--force-prereq-pass: unknown module "${module}" for RAT ${info.ratv}`);
    }
    forced[module!] = Number(pass);
  }
  return forced;
}

/** The engine's view of a command: databases, processing information, a clock, progress, a stop signal. */
export function engineContext(
  db: Databases,
  prepared: Pick<Prepared, 'info' | 'selector'>,
  reporter: Reporter,
  signal: AbortSignal,
): EngineContext {
  return {
    processing: db.processing,
    dataflow: db.dataflow,
    ratdb: db.ratdb,
    info: prepared.info,
    selector: prepared.selector,
    now: () => new Date(),
    user: whoAmI(),
    reporter,
    signal,
    // Tests of interruption use small batches for many write phases; users keep the engine's default.
    ...(Number(process.env.OPROC_BATCH_SIZE) > 0 ? { batchSize: Number(process.env.OPROC_BATCH_SIZE) } : {}),
  };
}

export function whoAmI(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): keep "unknown".
  }
  return `${user}@${leaseHost()}`;
}

/** The base of watch, block and the reprocess commands: the shared arguments, flags and checks. */
export abstract class SubmissionCommand extends OprocCommand {
  static override args = submissionArgs;
  static override flags = submissionFlags;

  /** Checks everything that can be checked without a database: bad input never writes anything. */
  protected async prepare(
    args: { config: string; ratv: string; filetype: string },
    flags: SubmissionFlags,
  ): Promise<Prepared> {
    const filetype = parseFiletype(args.filetype);
    const config = await this.loadConfig(args.config);
    const catalog = await ModuleCatalog.load(this.config, config);
    const info = catalog.forRatv(args.ratv);
    const selector = catalog.selector(config.selector);
    return {
      config,
      info,
      selector,
      options: {
        ratv: args.ratv,
        filetype,
        ratdbTag: flags['ratdb-tag'] ?? null,
        modules: parseModules(flags.modules, info),
        skipRatdbCheck: flags['skip-ratdb-check'],
        findPrereq: flags['find-prereq'],
        prereqRatv: flags['prereq-ratv'],
        forcePrereqPass: parseForcedPasses(flags['force-prereq-pass'], info),
        ignoreCalibrationLocks: flags['ignore-calibration-locks'],
        dryRun: flags['dry-run'],
        outlist: flags.outlist,
      },
    };
  }

  /** The command line as given, for the submission journal (never CONFIG's contents). */
  protected commandLine(): Record<string, unknown> {
    return { command: this.id, argv: this.argv };
  }
}
