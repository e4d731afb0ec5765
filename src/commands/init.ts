import { Args } from '@oclif/core';

import { OprocCommand } from '../base-command.js';
import { dataflowDesign, processingDesign } from '../engine/design.js';

export interface InitResult {
  processing: string;
  dataflow: string;
  ratdb: string;
}

export default class Init extends OprocCommand {
  static override summary = 'Create the databases, design documents and RATDB tables a config names.';
  static override description =
    'Idempotent: running it again changes nothing that is already in place. Creates the processing and ' +
    'data-flow databases (with the views oproc reads through) and the RATDB tables ratdb_header_v2, ' +
    'ratdb_data and ratdb_tag.';
  static override examples = ['<%= config.bin %> <%= command.id %> site.json'];
  static override args = {
    config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
  };

  async run(): Promise<InitResult> {
    const { args } = await this.parse(Init);
    const config = await this.loadConfig(args.config);
    const db = await this.openDatabases(config);
    await db.processing.create();
    await db.processing.ensureDesign(processingDesign);
    await db.dataflow.create();
    await db.dataflow.ensureDesign(dataflowDesign);
    await db.ratdb.create();
    const result = {
      processing: db.processing.description,
      dataflow: db.dataflow.description,
      ratdb: db.ratdb.description,
    };
    this.log(`processing database ready: ${result.processing}`);
    this.log(`data-flow database ready:  ${result.dataflow}`);
    this.log(`RATDB ready:               ${result.ratdb}`);
    return result;
  }
}
