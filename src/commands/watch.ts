import { Flags } from '@oclif/core';

import { cycleFlags, submissionArgs, watchExitCodesHelp } from '../cli/flags.js';
import { WatchCommand, type WatchSummary } from '../cli/watch-command.js';
import type { SubmissionFlags } from '../cli/submission-command.js';
import { parseRun } from '../engine/runlist.js';

export default class Watch extends WatchCommand {
  static override summary =
    'Sense complete runs after --start-run and create their passes, cycle after cycle (the original -r).';
  static override description =
    'Takes each complete run once per RAT version and filetype, in run order, resuming from its state document ' +
    '(watch_<RATV>_<FILETYPE>) when restarted. Stops at a calibration run (PCA, ECA) until its lock is released, and at a ' +
    'run whose RATDB tables are missing until they arrive. Two watchers for one RAT version and filetype cannot both ' +
    'write: a lease document decides, and a watcher that finds it held waits as a hot standby until it is released or ' +
    'expires, then takes over (on any host; `--once` exits 2 instead).\n' +
    watchExitCodesHelp;
  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 L2 --start-run 300000',
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 L2 -r 300000 --once --json',
  ];
  static override args = submissionArgs;
  static override flags = {
    ...cycleFlags,
    'start-run': Flags.string({
      char: 'r',
      summary: 'Consider only runs after this one.',
      required: true,
      helpValue: 'RUN',
    }),
  };

  async run(): Promise<WatchSummary> {
    const { args, flags } = await this.parse(Watch);
    const prepared = await this.prepare(args, flags as SubmissionFlags);
    const after = parseRun(flags['start-run'], '--start-run');
    return this.loop(
      prepared,
      { ...prepared.options, mode: 'watch', after, args: this.commandLine() },
      {
        once: flags.once,
        intervalSeconds: flags.interval ?? prepared.config.watch.intervalSeconds,
        config: args.config,
      },
    );
  }
}
