import { Args, Flags, type Interfaces } from '@oclif/core';

import { OprocCommand } from '../base-command.js';
import { ExitCode, usageError } from '../errors.js';
import { readOutlist } from '../engine/outlist.js';
import { parseRun } from '../engine/runlist.js';
import { describeMissing, tableLines, tsvLines } from '../operations/passes-format.js';
import {
  listPasses,
  parseStatuses,
  type MissingPass,
  type PassRow,
  type PassSource,
} from '../operations/passes.js';
import { passStatuses } from '../engine/types.js';

export interface PassesResult {
  passes: PassRow[];
  /** With --exactly: outlist lines whose pass does not exist. */
  missing: MissingPass[];
  /** Documents skipped because they are not valid job documents. */
  warnings: { id: string; problem: string }[];
}

type PassesFlags = Interfaces.InferredFlags<typeof Passes.flags>;

/** `--x A --x B` or `--x A,B`, trimmed, without empties. */
function listOf(values: readonly string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export default class Passes extends OprocCommand {
  static override summary = 'List passes in the processing database, filtered by run, module, status, ratv.';
  static override description =
    'Reads job documents and prints one line per pass: run, module, pass, RAT version, filetype, status, ' +
    'subjobs done out of all (with their statuses), submission and creation time. On a terminal this is a ' +
    'table; otherwise tab-separated lines under a header, for scripts. Filters combine (a pass must match ' +
    'all); repeatable filters match any of their values.\n\n' +
    '--exactly OUTLIST lists exactly the passes an outlist names (MODULE RUN PASS per line, any whitespace, ' +
    "# comments), as the experiment's processing_list --exactly does, and names the lines whose pass does " +
    'not exist.\n\n' +
    `Statuses: ${passStatuses.join(', ')}.\n\n` +
    'EXIT CODES\n' +
    '  0  listed (also when nothing matches)\n' +
    '  1  --exactly names passes that do not exist (listed)\n' +
    '  2  usage or config error (bad run, unknown status, unreadable outlist, unreachable database)';

  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json --from 300000 --to 300100',
    '<%= config.bin %> <%= command.id %> site.json --run 300050 --run 300052 --module Processing',
    '<%= config.bin %> <%= command.id %> site.json --status failed --status partFail --ratv 7.0.8',
    '<%= config.bin %> <%= command.id %> site.json --submission sub_2026-11-24T10-00-00Z_ab12 --json',
    '<%= config.bin %> <%= command.id %> site.json --exactly runs.exactly',
  ];

  static override args = {
    config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
  };

  static override flags = {
    run: Flags.string({
      summary: 'Only this run; repeat per run, or a comma list.',
      multiple: true,
      helpValue: 'RUN',
    }),
    from: Flags.string({ summary: 'Only runs from this one on (inclusive).', helpValue: 'RUN' }),
    to: Flags.string({ summary: 'Only runs up to this one (inclusive).', helpValue: 'RUN' }),
    module: Flags.string({
      summary: 'Only this module; repeat per module, or a comma list.',
      multiple: true,
      helpValue: 'MODULE',
    }),
    status: Flags.string({
      summary: 'Only passes in this status; repeat per status, or a comma list.',
      multiple: true,
      helpValue: 'STATUS',
    }),
    ratv: Flags.string({ summary: 'Only passes of this RAT version.', helpValue: 'RATV' }),
    submission: Flags.string({ summary: 'Only passes created by this submission.', helpValue: 'ID' }),
    exactly: Flags.string({
      summary: 'Exactly the passes this outlist names (MODULE RUN PASS per line).',
      helpValue: 'OUTLIST',
    }),
  };

  async run(): Promise<PassesResult> {
    const { args, flags } = await this.parse(Passes);
    const statuses = parseStatuses(listOf(flags.status));
    const source = await this.source(flags);
    const config = await this.loadConfig(args.config);
    const db = await this.openDatabases(config, { processing: true });
    const modules = listOf(flags.module);
    const listing = await listPasses(db.processing, {
      source,
      modules: modules.length ? modules : undefined,
      statuses,
      ratv: flags.ratv,
      submission: flags.submission,
    });
    this.render(listing.passes, listing.warnings);
    this.reportMissing(listing.missing, flags.exactly);
    if (listing.missing.length) process.exitCode = ExitCode.Partial;
    return listing;
  }

  /** Where the passes come from, checked before any database is opened. */
  private async source(flags: PassesFlags): Promise<PassSource> {
    const range = flags.from !== undefined || flags.to !== undefined;
    // Checked here rather than with oclif's `exclusive`, whose usage line would show --from and --to as alternatives.
    if (flags.exactly !== undefined && (range || flags.run?.length)) {
      throw usageError(
        '--exactly takes the runs from the outlist: do not combine it with --run, --from or --to',
      );
    }
    if (flags.run?.length && range) throw usageError('--run and --from/--to select runs two ways: use one');
    if (flags.exactly !== undefined) return { kind: 'exactly', entries: await readOutlist(flags.exactly) };
    const runs = listOf(flags.run).map((r) => parseRun(r, '--run'));
    if (runs.length) return { kind: 'runs', runs };
    const from = flags.from === undefined ? undefined : parseRun(flags.from, '--from');
    const to = flags.to === undefined ? undefined : parseRun(flags.to, '--to');
    if (from !== undefined && to !== undefined && from > to) {
      throw usageError(`--from ${from} is after --to ${to}`);
    }
    return { kind: 'range', from, to };
  }

  private render(passes: readonly PassRow[], warnings: PassesResult['warnings']): void {
    if (this.jsonEnabled()) return;
    for (const w of warnings) this.warn(`skipped document ${w.id}: ${w.problem}`);
    if (!process.stdout.isTTY) {
      for (const line of tsvLines(passes)) this.log(line);
    } else if (passes.length === 0) {
      this.log('No passes match.');
    } else {
      for (const line of tableLines(passes)) this.log(line);
      this.log(`${passes.length} pass(es)`);
    }
  }

  private reportMissing(missing: readonly MissingPass[], outlist: string | undefined): void {
    if (missing.length === 0 || this.jsonEnabled()) return;
    this.logToStderr(`${missing.length} pass(es) named in ${outlist} do not exist:`);
    for (const m of missing) this.logToStderr(`  ${describeMissing(m)}`);
  }
}
