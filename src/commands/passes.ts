import { Args, Flags } from '@oclif/core';

import { OprocCommand } from '../base-command.js';
import { listOf, passSource, runSelectionFlags } from '../cli/pass-selection.js';
import { ExitCode } from '../errors.js';
import { plural } from '../util/plural.js';
import { describeMissing, tableLines, tsvLines } from '../operations/passes-format.js';
import { listPasses, parseStatuses, type MissingPass, type PassRow } from '../operations/passes.js';
import { passStatuses } from '../engine/types.js';

export interface PassesResult {
  passes: PassRow[];
  /** With --exactly: outlist lines whose pass does not exist. */
  missing: MissingPass[];
  /** Documents skipped because they are not valid job documents. */
  warnings: { id: string; problem: string }[];
}

export default class Passes extends OprocCommand {
  static override summary = 'List passes in the processing database, filtered by run, module, status, ratv.';
  static override description =
    'Reads job documents and prints one line per pass: run, module, pass, RAT version, filetype, status, ' +
    'subjobs done out of all (with their statuses), submission and creation time. On a terminal this is a ' +
    'table; otherwise tab-separated lines under a header, for scripts. Filters combine (a pass must match ' +
    'all); repeatable filters match any of their values.\n\n' +
    '--runlist FILE takes the runs from a runlist (one per line, # comments; - reads stdin).\n\n' +
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
    ...runSelectionFlags,
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
  };

  async run(): Promise<PassesResult> {
    const { args, flags } = await this.parse(Passes);
    const statuses = parseStatuses(listOf(flags.status));
    const source = await passSource(flags);
    const config = await this.loadConfig(args.config);
    const db = await this.openDatabases(config, { processing: true }, { create: false });
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

  private render(passes: readonly PassRow[], warnings: PassesResult['warnings']): void {
    if (this.jsonEnabled()) return;
    for (const w of warnings) this.warn(`skipped document ${w.id}: ${w.problem}`);
    if (!process.stdout.isTTY) {
      for (const line of tsvLines(passes)) this.log(line);
    } else if (passes.length === 0) {
      this.log('No passes match.');
    } else {
      for (const line of tableLines(passes)) this.log(line);
      this.log(plural(passes.length, 'pass'));
    }
  }

  private reportMissing(missing: readonly MissingPass[], outlist: string | undefined): void {
    if (missing.length === 0 || this.jsonEnabled()) return;
    this.logToStderr(
      `${plural(missing.length, 'pass')} named in ${outlist} ${missing.length === 1 ? 'does' : 'do'} not exist:`,
    );
    for (const m of missing) this.logToStderr(`  ${describeMissing(m)}`);
  }
}
