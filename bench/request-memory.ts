/**
 * What a long-lived CouchDB store keeps per request: `oproc serve` and a watcher keep one store open
 * for weeks. Makes N small reads and N short long-polls through one store on pouchdb-server, as a
 * watcher's stop signal and the store's own signal see them, and prints the JS heap after a full
 * garbage collection every tenth of the way (docs/PERFORMANCE.md, the soak).
 *
 *   node --expose-gc --import tsx bench/request-memory.ts [N]     (default 20000)
 */
import couchdbBackends from '../plugins/couchdb/src/hooks/backends.js';
import { backendContext } from '../test/support/context.js';
import { startCouch } from '../test/support/couch-server.js';

const requests = Number(process.argv[2] ?? 20000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const couch = await startCouch();
try {
  const factory = (await couchdbBackends()).documentStores!.couchdb!;
  const section = { backend: 'couchdb', url: couch.url, database: 'request-memory' };
  const store = await factory(backendContext('processing', section));
  await store.create();
  const stop = new AbortController(); // a watcher's stop signal: alive as long as the process
  const heapMb = () => {
    gc();
    return Math.round(process.memoryUsage().heapUsed / 1e5) / 10;
  };
  const rows: { requests: number; heapMb: number }[] = [{ requests: 0, heapMb: heapMb() }];
  for (let i = 1; i <= requests; i++) {
    await store.getMany(['nothing']);
    await store.changes!({ since: 'now', waitMs: 1, signal: stop.signal });
    if (i % (requests / 10) === 0) rows.push({ requests: i, heapMb: heapMb() });
  }
  await store.close();
  console.log(JSON.stringify({ node: process.version, rows }));
} finally {
  await couch.stop();
}
