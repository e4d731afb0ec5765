import { Args } from '@oclif/core';

import { OprocCommand } from '../base-command.js';
import { ExitCode } from '../errors.js';
import { ModuleCatalog } from '../modules/catalog.js';
import { insightContext } from '../operations/insight.js';
import { statusLines, statusTables } from '../operations/insight-format.js';
import { readStatus, type StatusReport } from '../operations/status.js';
import { messageWidth } from '../cli/messages.js';
import { unknownRatv } from '../operations/versions.js';
import { whoAmI } from '../cli/submission-command.js';

export default class Status extends OprocCommand {
  static override summary =
    'How processing stands: passes per module and status, watchers, locks, submissions.';
  static override description =
    'Per RAT version (RATV, or every version with passes or a watcher): the number of passes per module and ' +
    "status, counting each job's newest pass of the version and all its passes; the runs and passes handled " +
    'per day over the last 28 days; each watcher and block with its state (last_run), its lease (holder, ' +
    'heartbeat and its age), the newest complete run, the backlog (complete runs after last_run not yet ' +
    'handled) and what `oproc why` says of its first 10 backlog runs. Then the calibration locks and the ' +
    'newest 10 submissions, and how many oproc documents have conflicting revisions now (0 normally; ' +
    'on a CouchDB cluster a running watcher merges them within a cycle). Counts come from views of the ' +
    'processing database, not from reading every job document. A watcher is stale when its last heartbeat is older than watch.lease_seconds of the config, ' +
    'or its lease has expired or been released; a block whose runs are all handled is done, not stale. ' +
    'Reads only.\n\n' +
    'EXIT CODES\n' +
    '  0  shown, no watcher is stale\n' +
    '  1  some watcher is stale (for cron or a monitoring probe to alert on)\n' +
    '  2  usage or config error (unreadable config, unreachable database, views not installed)';

  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json',
    '<%= config.bin %> <%= command.id %> site.json 7.0.8',
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 --json',
    '<%= config.bin %> <%= command.id %> site.json >/dev/null || echo "a watcher is stale"',
  ];

  static override args = {
    config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
    ratv: Args.string({ description: 'Only this RAT version', required: false }),
  };

  async run(): Promise<StatusReport> {
    const { args } = await this.parse(Status);
    const config = await this.loadConfig(args.config);
    const catalog = await ModuleCatalog.load(this.config, config);
    const db = await this.openDatabases(config, undefined, { create: false });
    if (args.ratv !== undefined) {
      const unknown = await unknownRatv(db.processing, catalog.ratvs(), args.ratv);
      if (unknown) throw unknown;
    }
    const report = await readStatus(insightContext(db, config, catalog, whoAmI()), { ratv: args.ratv });
    if (!this.jsonEnabled()) {
      // Tables fit the terminal's width (OCLIF_COLUMNS when set, as for messages); off one, plain lines.
      const lines = process.stdout.isTTY
        ? statusTables(report, messageWidth(process.stdout) ?? 80)
        : statusLines(report);
      for (const line of lines) this.log(line);
    }
    process.exitCode = report.stale ? ExitCode.Partial : ExitCode.Ok;
    return report;
  }
}
