import { Args } from '@oclif/core';

import { OprocCommand } from '../../base-command.js';
import { describeLock, lockViews, type LockView } from '../../operations/locks.js';

export interface LocksResult {
  locks: LockView[];
}

export default class Locks extends OprocCommand {
  static override summary = 'Show the calibration locks (PCA, ECA) and whether they hold later runs.';
  static override description =
    'A PCA or ECA run sets its calibration lock at that run; while it is set, watch and block process no ' +
    'later run. A lock is released by `oproc locks release`, or when the calibration group sets validto in ' +
    'the lock document. For each calibration: the run it was set at, its state (set or released), validto, ' +
    'when it was set, and who released it and when; "no lock" when none was ever set.\n\n' +
    'EXIT CODES\n' +
    '  0  shown\n' +
    '  2  usage or config error (unreadable config, unreachable database)';

  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json',
    '<%= config.bin %> <%= command.id %> site.json --json',
  ];

  static override args = {
    config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
  };

  async run(): Promise<LocksResult> {
    const { args } = await this.parse(Locks);
    const config = await this.loadConfig(args.config);
    const db = await this.openDatabases(config, { processing: true }, { create: false });
    const locks = await lockViews(db.processing);
    for (const lock of locks) this.log(describeLock(lock));
    return { locks };
  }
}
