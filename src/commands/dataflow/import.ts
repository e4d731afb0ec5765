import { Args } from '@oclif/core';

import { OprocCommand } from '../../base-command.js';
import { dataflowDesign } from '../../engine/design.js';
import { importDataflow, readDataflowFiles, type ImportCounts } from '../../dataflow/import.js';

export interface DataflowImportResult extends ImportCounts {
  database: string;
  files: string[];
  documents: number;
}

export default class DataflowImport extends OprocCommand {
  static override summary = 'Import data-flow documents (raw-data files and run ends) from JSON files.';
  static override description =
    'Each FILE holds a JSON array of documents, or one document per line (NDJSON) for big files: ' +
    '{"type":"file","run","subrun","filetype":"L1"|"L2","name","size","checksum","registered"} and ' +
    '{"type":"run_end","run","subruns"}. An absent _id is derived (file_L2_300050_003, run_end_300050). ' +
    'Every document of every file is checked before anything is written. Importing again is safe: ' +
    'identical documents are left alone and changed ones are updated. Exit codes: 0 imported; 1 a write ' +
    'failed part-way (import again); 2 bad input or config, nothing written.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json dataflow.json',
    '<%= config.bin %> <%= command.id %> site.json files-300000.ndjson files-300100.ndjson --json',
  ];
  static override args = {
    config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
    file: Args.string({
      description: 'JSON or NDJSON file(s) of data-flow documents',
      required: true,
      multiple: true,
    }),
  };

  async run(): Promise<DataflowImportResult> {
    const { args } = await this.parse(DataflowImport);
    const files = args.file;
    const config = await this.loadConfig(args.config);
    const documents = await readDataflowFiles(files);
    const db = await this.openDatabases(config, { dataflow: true });
    // Idempotent, and lets an import fill a database that `oproc init` has not prepared. The views
    // are built by the first command that reads them (or `oproc init`), not before the import.
    await db.dataflow.create();
    await db.dataflow.ensureDesign(dataflowDesign, { wait: false });
    const counts = await importDataflow(db.dataflow, documents, {
      onProgress: (done, total) => {
        if (total > 1000) this.logToStderr(`  ${done}/${total} documents`);
      },
    });
    this.log(
      `data-flow import into ${db.dataflow.description}: ${counts.new} new, ${counts.updated} updated, ` +
        `${counts.unchanged} unchanged (${documents.length} documents from ${files.length} ${files.length === 1 ? 'file' : 'files'})`,
    );
    return { ...counts, database: db.dataflow.description, files, documents: documents.length };
  }
}
