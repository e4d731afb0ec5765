import path from 'node:path';

import { Args } from '@oclif/core';

import { OprocCommand } from '../../base-command.js';
import { loadRatdbFiles, type LoadResult } from '../../ratdb/operations.js';
import { readRatdbFiles } from '../../ratdb/ratdb-file.js';

export default class RatdbLoad extends OprocCommand {
  static override summary = 'Load RAT .ratdb files into the RATDB database.';
  static override description =
    'Each file holds RAT tables one after another, in JSON5 (comments, unquoted keys and trailing commas ' +
    'allowed). Every table needs "type", "run_range": [begin, end] and "version"; "index" defaults to "" and ' +
    '"pass" to 0; an ISO "timestamp" sets when the table becomes visible to tags (default: when loaded). ' +
    'Every file is checked first: any problem is reported as FILE:LINE:COLUMN and nothing is loaded ' +
    '(exit 2). Then all tables are loaded in one transaction. The RATDB tables are created if missing.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json run.ratdb daq_run_level.ratdb pmt_dqxx.ratdb',
    '<%= config.bin %> <%= command.id %> site.json ratdb/*.ratdb --json',
  ];
  static override args = {
    config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
    file: Args.string({ description: '.ratdb file(s) to load', required: true, multiple: true }),
  };

  async run(): Promise<LoadResult> {
    const { args } = await this.parse(RatdbLoad);
    const files = args.file;
    const config = await this.loadConfig(args.config);
    // Every file is read and checked before the database is opened: a bad file costs nothing.
    const read = await readRatdbFiles(files);
    const db = await this.openDatabases(config, { ratdb: true });
    const result = await loadRatdbFiles(db.ratdb, read);
    const from = result.files.map((f) => `${path.basename(f.file)} (${f.tables})`).join(', ');
    this.log(`loaded ${result.loaded} tables into RATDB ${result.ratdb} from ${from}`);
    return result;
  }
}
