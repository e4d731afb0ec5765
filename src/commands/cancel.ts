import {
  passChangeArgs,
  passChangeExitCodes,
  passChangeFlags,
  PassChangeCommand,
  statusesHelp,
} from '../cli/pass-change-command.js';

export default class Cancel extends PassChangeCommand {
  static override summary =
    "Cancel passes of a RAT version's modules, so the grid runs them no more (the experiment's cancel_jobs.py).";

  static override description =
    'At least one -m is required (a module name or a shell glob; -m "*" for every module). Selects passes ' +
    'of RATV by module, pass number, status (default waiting, new, submitted, running), run (--run, ' +
    '--from/--to, --runlist) or exactly the passes of an outlist (--exactly), optionally only the newest ' +
    'pass of each job (--last-pass). Each selected pass becomes canceled, with its subjobs that are not ' +
    'completed, and records canceled_at and canceled_by. A canceled pass can be put back with oproc retry ' +
    '--status canceled.\n\n' +
    'On a terminal the count per module and status is shown and you are asked (y/N); without a terminal, give ' +
    '--yes (or the original --fearless), or the passes are listed and nothing is changed (exit 2). A grid ' +
    'client may write the same job documents meanwhile: its changes are kept, and a pass whose status it ' +
    'changed so that the pass no longer matches is left alone and listed.\n\n' +
    `${statusesHelp}\n` +
    passChangeExitCodes;

  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 -m Analysis --from 300000 --to 300100',
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 -m "Analysis*" --pass 2 --dry-run',
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 -m Processing --runlist bad-runs.txt --yes',
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 -m "*" --exactly runs.exactly --yes --json',
  ];

  static override args = passChangeArgs;
  static override flags = passChangeFlags;

  protected readonly kind = 'cancel';
}
