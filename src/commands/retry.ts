import { Flags } from '@oclif/core';

import {
  passChangeArgs,
  passChangeExitCodes,
  passChangeFlags,
  PassChangeCommand,
  statusesHelp,
} from '../cli/pass-change-command.js';

export default class Retry extends PassChangeCommand {
  static override summary =
    "Put failed passes of a RAT version back to waiting, in place: no new pass (the experiment's retry_failed.py).";

  static override description =
    'Selects passes of RATV by module (-m, a name or a shell glob), pass number, status (default failed), ' +
    'run (--run, --from/--to, --runlist) or exactly the passes of an outlist (--exactly), optionally only the ' +
    'newest pass of each job (--last-pass). Each selected pass goes back to waiting, with its subjobs that are ' +
    'not completed, and gets an entry { at, by, from } appended to its "retries" list. No pass is created: for ' +
    'partFail jobs use this, not a reprocess, which would give them a new pass.\n\n' +
    'Statuses retried: failed, partFail, unsatisfied, canceled; submitted and running only with --force (the ' +
    'grid site may still run the job, which would then run twice). A completed pass is reprocessed, not ' +
    'retried.\n\n' +
    'On a terminal the count per module and status is shown and you are asked (y/N); without a terminal, give ' +
    '--yes (or the original --fearless), or the passes are listed and nothing is changed (exit 2). A grid ' +
    'client may write the same job documents meanwhile: its changes are kept, and a pass whose status it ' +
    'changed so that the pass no longer matches is left alone and listed.\n\n' +
    `${statusesHelp}\n` +
    passChangeExitCodes;

  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 --status partFail --from 300000 --to 300100',
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 -m "Analysis*" --last-pass --dry-run',
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 --status failed,unsatisfied --runlist runs.txt --yes',
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 --exactly runs.exactly --yes --json',
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 --status running --force --run 300050 -m Processing',
  ];

  static override args = passChangeArgs;

  static override flags = {
    ...passChangeFlags,
    force: Flags.boolean({
      summary: 'Also take submitted and running passes (a vanished grid site); the job may run twice.',
      default: false,
    }),
  };

  protected readonly kind = 'retry';
}
