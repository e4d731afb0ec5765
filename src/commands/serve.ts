import { Args, Flags } from '@oclif/core';

import { OprocCommand } from '../base-command.js';
import { usageError } from '../errors.js';
import { ModuleCatalog } from '../modules/catalog.js';
import { insightContext } from '../operations/insight.js';
import { PastDays } from '../operations/status.js';
import { startStatusServer } from '../serve/server.js';
import { closeHttpConnections } from '../util/http.js';

export interface ServeResult {
  url: string;
  stopped_by: 'SIGINT' | 'SIGTERM';
}

const loopback = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export default class Serve extends OprocCommand {
  static override summary = 'Serve a read-only, live web page of the processing state.';
  static override description =
    'What `oproc status` shows, as charts and tables per RAT version: passes by status per module, runs ' +
    'handled per day, the backlog of complete runs without passes and why each waits, watcher heartbeats ' +
    '(a stale watcher in red), the calibration locks and the last submissions with their passes; and a ' +
    'page per run with what `oproc why` shows, and a page of the passes of an outlist (chosen or pasted ' +
    'there, read as `oproc passes --exactly` reads it). The page updates by itself when passes are created or ' +
    'their statuses change (server-sent events fed by the processing database change feed).\n\n' +
    'Endpoints: / (the page), /runs/RUN, /submissions/ID, /outlist, /api/status?ratv=R (= oproc status ' +
    '--json), /api/runs/RUN?ratv=R&filetype=F (= oproc why --json), /api/submissions/ID, POST /api/outlist ' +
    '(an outlist as text/plain; reads only), /api/events (the live stream).\n\n' +
    'It changes nothing, binds to loopback unless --host says otherwise, and never shows a password. ' +
    'Ctrl-C (SIGINT) or SIGTERM stops it.\n\n' +
    'EXIT CODES\n' +
    '  0  stopped by Ctrl-C or SIGTERM\n' +
    '  2  usage or config error (unreadable config, unreachable database, port already in use)';

  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json',
    '<%= config.bin %> <%= command.id %> site.json --port 8081',
    '<%= config.bin %> <%= command.id %> site.json --host 0.0.0.0 --port 8080',
  ];

  static override args = {
    config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
  };

  static override flags = {
    port: Flags.integer({
      summary: 'Port to listen on (0: any free port, printed).',
      default: 8080,
      min: 0,
      max: 65535,
    }),
    host: Flags.string({
      summary: 'Address to listen on; loopback unless you mean to show the page to other machines.',
      default: '127.0.0.1',
    }),
  };

  async run(): Promise<ServeResult> {
    const { args, flags } = await this.parse(Serve);
    if (flags.host.trim() === '') throw usageError('--host is empty');
    const config = await this.loadConfig(args.config);
    const catalog = await ModuleCatalog.load(this.config, config);
    const db = await this.openDatabases(config, undefined, { create: false });
    if (!loopback.test(flags.host)) {
      this.warn(`listening on ${flags.host}: the page is visible to other machines (it is read-only)`);
    }
    const server = await startStatusServer({
      context: { ...insightContext(db, config, catalog, 'oproc-serve'), pastDays: new PastDays() },
      ratvs: catalog.ratvs(),
      embedded: config.processing.backend === 'pouchdb',
      host: flags.host,
      port: flags.port,
      warn: (message) => this.warn(message),
    });
    this.log(`Status page: ${server.url} (read-only; Ctrl-C to stop)`);
    const signal = await new Promise<'SIGINT' | 'SIGTERM'>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    this.logToStderr(`${signal}: stopping the status page`);
    // The page changes nothing, so stopping need not wait for anything in flight: the change feeds
    // stop at once, a status computation gets a moment, then the connections to the databases are
    // closed under whatever still waits. Should something still hold the process, it exits anyway.
    setTimeout(() => process.exit(0), 5000).unref();
    await server.close();
    await closeHttpConnections();
    return { url: server.url, stopped_by: signal };
  }
}
