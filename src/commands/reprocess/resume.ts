import { Args } from '@oclif/core';

import { OprocCommand } from '../../base-command.js';
import { exitCodesHelp } from '../../cli/flags.js';
import { createdText, withProgress } from '../../cli/render.js';
import { summarize } from '../../cli/reprocess-command.js';
import { engineContext } from '../../cli/submission-command.js';
import { exitCodeOf, resume, type SubmissionResult } from '../../engine/reprocess.js';
import { ids } from '../../engine/types.js';
import { usageError } from '../../errors.js';
import { ModuleCatalog } from '../../modules/catalog.js';

export default class ReprocessResume extends OprocCommand {
  static override summary =
    'Finish an interrupted reprocess: the runs of SUBMISSION without their pass get it, once.';
  static override description =
    "SUBMISSION is the id printed when the command stopped, in the passes' submission field and in submission_<id>. " +
    'Passes the interrupted run already wrote are recognised by that id and not written again.\n' +
    exitCodesHelp;
  static override examples = ['<%= config.bin %> <%= command.id %> site.json sub_2026-11-24T10-00-00Z_ab12'];
  static override args = {
    config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
    submission: Args.string({ description: 'Submission id', required: true }),
  };

  async run(): Promise<SubmissionResult> {
    const { args } = await this.parse(ReprocessResume);
    const config = await this.loadConfig(args.config);
    const catalog = await ModuleCatalog.load(this.config, config);
    const db = await this.openDatabases(config, undefined, { create: false });
    const id = args.submission.replace(/^submission_/, '');
    const journal = (await db.processing.getMany([ids.submission(id)])).get(ids.submission(id));
    if (!journal || journal.type !== 'submission')
      throw usageError(`no submission ${id} in the processing database`);
    const prepared = {
      info: catalog.forRatv(String(journal.ratv)),
      selector: catalog.selector(config.selector),
    };
    this.stopOnSignals();
    const result = await withProgress(
      `resume ${id}`,
      { json: this.jsonEnabled() },
      (reporter) => resume(engineContext(db, prepared, reporter, this.stopSignal), id),
      (r) => `resume ${id}: ${createdText(r.created.length, false)}`,
    );
    summarize(this, result, args.config, (journal.request as { outlist?: string } | undefined)?.outlist);
    process.exitCode = exitCodeOf(result);
    return result;
  }
}
