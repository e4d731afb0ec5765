import { Args, Flags } from '@oclif/core';

import { OprocCommand } from '../../base-command.js';
import { whoAmI } from '../../cli/submission-command.js';
import { releaseLock } from '../../engine/locks.js';
import { parseRun } from '../../engine/runlist.js';
import { describeLock, parseCalibration, viewOf, type LockView } from '../../operations/locks.js';

export interface ReleaseResult {
  lock: LockView;
}

export default class LocksRelease extends OprocCommand {
  static override summary = 'Release a calibration lock: set its validto run, so watch and block go past it.';
  static override description =
    'CAL is PCA or ECA (any case). Records validto, who released the lock and when, in the lock document. ' +
    'A lock that does not exist or is already released is refused and nothing is changed.\n\n' +
    'EXIT CODES\n' +
    '  0  released\n' +
    '  2  usage or config error (unknown calibration, bad run, no lock set): nothing was changed';

  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json PCA --validto 300120',
    '<%= config.bin %> <%= command.id %> site.json eca --validto 300200 --json',
  ];

  static override args = {
    config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
    cal: Args.string({ description: 'Calibration: PCA or ECA', required: true }),
  };

  static override flags = {
    validto: Flags.string({
      summary: 'Last run the calibration is valid to (a run number).',
      helpValue: 'RUN',
      required: true,
    }),
  };

  async run(): Promise<ReleaseResult> {
    const { args, flags } = await this.parse(LocksRelease);
    const calibration = parseCalibration(args.cal);
    const validto = parseRun(flags.validto, '--validto');
    const config = await this.loadConfig(args.config);
    const db = await this.openDatabases(config, { processing: true }, { create: false });
    const released = await releaseLock(db.processing, calibration, validto, whoAmI(), new Date());
    const lock = viewOf(calibration, released);
    this.log(`Released the ${calibration} calibration lock.`);
    this.log(describeLock(lock));
    return { lock };
  }
}
