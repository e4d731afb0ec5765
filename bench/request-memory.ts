/**
 * What a long-lived CouchDB store keeps per request: `oproc serve` and a watcher keep one store open
 * for weeks. Makes N small reads through one store on pouchdb-server and prints the JS heap after a
 * full garbage collection every tenth of the way, with the number of combined abort signals still
 * listed on the store's own signal (docs/PERFORMANCE.md, issue 21 of 2026-12-06).
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
  const heapMb = () => {
    gc();
    return Math.round(process.memoryUsage().heapUsed / 1e5) / 10;
  };
  // The combined signals still listed on the store's own signal (Node's internal set, read for this
  // figure only): AbortSignal.any left one per request there for the store's life.
  const own = (store as unknown as { client: { closing: AbortController } }).client.closing.signal;
  const listed = Object.getOwnPropertySymbols(own).find((k) => k.description === 'kDependantSignals');
  const dependants = () =>
    listed ? ((own as unknown as Record<symbol, Set<unknown> | undefined>)[listed]?.size ?? 0) : 0;
  const rows: { requests: number; heapMb: number; dependants: number }[] = [
    { requests: 0, heapMb: heapMb(), dependants: dependants() },
  ];
  for (let i = 1; i <= requests; i++) {
    await store.getMany(['nothing']);
    if (i % (requests / 10) === 0) rows.push({ requests: i, heapMb: heapMb(), dependants: dependants() });
  }
  await store.close();
  console.log(JSON.stringify({ node: process.version, rows }));
} finally {
  await couch.stop();
}
