import { Args, Flags } from '@oclif/core';

import { OprocCommand } from '../base-command.js';
import type { DesignDocument, DesignOutcome, DocumentStore } from '../backends/types.js';
import { buildDisplay } from '../cli/view-progress.js';
import { dataflowDesign, processingDesign } from '../engine/design.js';

export interface InitResult {
  processing: string;
  dataflow: string;
  ratdb: string;
  /** What happened to each design document, by name (`oproc`, `oproc_dataflow`). */
  views: Record<string, DesignOutcome>;
  /** False with --no-wait: the builds were started, not waited for. */
  built: boolean;
}

function outcomeLine(design: string, outcome: DesignOutcome, wait: boolean): string {
  const id = `_design/${design}`;
  switch (outcome) {
    case 'unchanged':
      return `views of ${id}: already in place${wait ? ' and built' : ''}`;
    case 'created':
    case 'updated':
      return wait
        ? `views of ${id}: ${outcome} and built`
        : `views of ${id}: ${outcome}, build started (queries wait for it, showing its progress)`;
    case 'staged':
      return `views of ${id}: changed; being built under ${id}_staged while the old ones answer. Run \`oproc init CONFIG\` again to wait for it and switch`;
    case 'switched':
      return `views of ${id}: changed; built under ${id}_staged while the old ones answered, then switched`;
  }
}

export default class Init extends OprocCommand {
  static override summary = 'Create the databases, design documents and RATDB tables a config names.';
  static override description =
    'Idempotent: running it again changes nothing that is already in place. Creates the processing and ' +
    'data-flow databases (with the views oproc reads through) and the RATDB tables ratdb_header_v2, ' +
    'ratdb_data and ratdb_tag, then waits until the views are built, showing the build’s progress ' +
    '(a bar on a terminal, a line every 10 s otherwise; on a database of millions of documents this ' +
    'takes minutes). On Apache CouchDB, views that changed since the last `oproc init` (an upgrade of ' +
    'oproc) are built under `_design/NAME_staged` while the old ones keep answering a running watcher, ' +
    'then switched in at once.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json',
    '<%= config.bin %> <%= command.id %> site.json --no-wait',
  ];
  static override args = {
    config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
  };
  static override flags = {
    wait: Flags.boolean({
      summary: 'Wait until the views are built (--no-wait: start the builds and return).',
      default: true,
      allowNo: true,
    }),
  };

  async run(): Promise<InitResult> {
    const { args, flags } = await this.parse(Init);
    const config = await this.loadConfig(args.config);
    const db = await this.openDatabases(config);
    const json = this.jsonEnabled();
    const views: Record<string, DesignOutcome> = {};
    const install = async (store: DocumentStore, design: DesignDocument) => {
      const display = buildDisplay();
      const outcome = await store.ensureDesign(design, {
        wait: flags.wait,
        ...(json ? {} : { onProgress: (progress) => display.update(progress) }),
      });
      display.done();
      views[design.name] = outcome ?? 'unchanged';
      this.log(outcomeLine(design.name, views[design.name]!, flags.wait));
    };
    await db.processing.create();
    await db.dataflow.create();
    await db.ratdb.create();
    this.log(`processing database ready: ${db.processing.description}`);
    this.log(`data-flow database ready:  ${db.dataflow.description}`);
    this.log(`RATDB ready:               ${db.ratdb.description}`);
    await install(db.processing, processingDesign);
    await install(db.dataflow, dataflowDesign);
    return {
      processing: db.processing.description,
      dataflow: db.dataflow.description,
      ratdb: db.ratdb.description,
      views,
      built: flags.wait,
    };
  }
}
