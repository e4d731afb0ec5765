/**
 * Where `oproc status` and `oproc why` spend their time: seeds pouchdb-server with N job documents
 * (default 5,000) as bench/insight.ts does, then runs both in-process twice, printing each request
 * to the processing and data-flow databases with its time.
 *
 *   tsx bench/insight-profile.ts [JOBS]
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { openDatabases } from '../src/backends/registry.js';
import { loadConfig } from '../src/config/load.js';
import { processingDesign } from '../src/engine/design.js';
import { ModuleCatalog } from '../src/modules/catalog.js';
import { insightContext } from '../src/operations/insight.js';
import { readStatus } from '../src/operations/status.js';
import { explainRun } from '../src/operations/why.js';
import { startCouch } from '../test/support/couch-server.js';
import { startPostgres } from '../test/support/postgres-server.js';
import { registry, testProcessingInformation } from '../test/support/scenario.js';
import { jobDocuments, others } from './insight.js';
import { firstRun, seed, serverDatabases } from './seed.js';

const couch = await startCouch();
const postgres = await startPostgres();
try {
  const dir = await mkdtemp(path.join(tmpdir(), 'oproc-prof-'));
  const dbs = await serverDatabases(dir, couch, postgres, 'prof');
  await seed(dbs.config, { runs: 1000, subruns: 3 });
  const now = new Date();
  const docs = [...jobDocuments(Number(process.argv[2] ?? 5000), now), ...others(now)];
  for (let i = 0; i < docs.length; i += 2000)
    await fetch(`${dbs.processingUrl}/_bulk_docs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ docs: docs.slice(i, i + 2000) }),
    });
  const config = await loadConfig(dbs.config);
  const db = await openDatabases(await registry(), config);
  for (const view of Object.keys(processingDesign.views))
    await db.processing.queryView('oproc', view, {
      limit: 1,
      reduce: view.startsWith('passes_') ? false : undefined,
    });
  for (const store of [db.processing, db.dataflow]) {
    for (const method of ['queryView', 'allDocs', 'getMany'] as const) {
      const original = (store[method] as (...a: unknown[]) => Promise<unknown>).bind(store);
      (store as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
        const t = performance.now();
        const r = await original(...args);
        console.log(
          `  ${method} ${JSON.stringify(args).slice(0, 110)} ${(performance.now() - t).toFixed(0)} ms`,
        );
        return r;
      };
    }
  }
  const catalog = ModuleCatalog.fromSources([
    { source: 'x', contribution: { processing_information: [testProcessingInformation] } },
  ]);
  const ctx = insightContext(db, config, catalog);
  for (let i = 0; i < 2; i++) {
    let t = performance.now();
    await readStatus(ctx, { ratv: testProcessingInformation.ratv });
    console.log(`status ${(performance.now() - t).toFixed(0)} ms`);
    t = performance.now();
    await explainRun(ctx, { ratv: testProcessingInformation.ratv, filetype: 'L2', run: firstRun + 510 });
    console.log(`why ${(performance.now() - t).toFixed(0)} ms`);
  }
  await db.close();
} finally {
  await couch.stop();
  await postgres.stop();
}
