import { Args, Flags } from '@oclif/core';

import { OprocCommand } from '../base-command.js';
import { parseFiletype, whoAmI } from '../cli/submission-command.js';
import { parseRun } from '../engine/runlist.js';
import { ModuleCatalog } from '../modules/catalog.js';
import { unknownRatv } from '../operations/versions.js';
import { insightContext } from '../operations/insight.js';
import { whyLines } from '../operations/insight-format.js';
import { explainRun, type WhyReport } from '../operations/why.js';

export default class Why extends OprocCommand {
  static override summary =
    'Why a run has (or has no) passes, and what the next watch cycle would do with it.';
  static override description =
    'Everything that decides whether the run gets passes, in the order a watcher decides it: the data-flow ' +
    'files per filetype and subrun and whether the run is complete (and why), the run type word and its bit ' +
    'names (as the RATDB tag sees them), the modules selected, per module the RATDB tables present and ' +
    'missing, the prerequisites, the calibration locks and whether they hold the run, where each watcher of ' +
    'RATV FILETYPE stands (last_run, lease holder, heartbeat), and the passes that exist. The last line is ' +
    'the verdict: what a watcher with default flags would do with the run now (already handled, held, waits, ' +
    'would skip, would create). It asks the engine the same questions the watcher does, so it cannot ' +
    'disagree with it. Reads only.\n\n' +
    'EXIT CODES\n' +
    '  0  explained, whatever the verdict\n' +
    '  2  usage or config error (bad FILETYPE or RUN, unknown RATV or tag, unreachable database)';

  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 L2 300050',
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 L2 300050 -t water-physics-v2',
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 L2 300050 --json',
  ];

  static override args = {
    config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
    ratv: Args.string({ description: 'RAT version, e.g. 7.0.8', required: true }),
    filetype: Args.string({ description: 'L1 or L2', required: true }),
    run: Args.string({ description: 'Run number', required: true }),
  };

  static override flags = {
    'ratdb-tag': Flags.string({
      char: 't',
      summary: 'See RATDB as this tag froze it (as a watcher given -t does).',
      helpValue: 'TAG',
    }),
  };

  async run(): Promise<WhyReport> {
    const { args, flags } = await this.parse(Why);
    const filetype = parseFiletype(args.filetype);
    const run = parseRun(args.run, 'RUN');
    const config = await this.loadConfig(args.config);
    const catalog = await ModuleCatalog.load(this.config, config);
    const db = await this.openDatabases(config, undefined, { create: false });
    // Neither processing information nor a pass: the error names the versions that have either.
    const unknown = await unknownRatv(db.processing, catalog.ratvs(), args.ratv);
    if (unknown) throw unknown;
    catalog.forRatv(args.ratv); // passes but no processing information: why cannot plan the run
    const report = await explainRun(insightContext(db, config, catalog, whoAmI()), {
      ratv: args.ratv,
      filetype,
      run,
      ratdbTag: flags['ratdb-tag'] ?? null,
    });
    if (!this.jsonEnabled()) for (const line of whyLines(report)) this.log(line);
    return report;
  }
}
