import type { BackendContribution } from 'oproc';

/**
 * The `oproc:backends` hook: a document store named `couchdb` (CouchDB 3 HTTP API via nano). Every
 * command runs every backend hook, so the driver is imported only when a config names it.
 */
export default async function backends(): Promise<BackendContribution> {
  return {
    documentStores: { couchdb: async (context) => (await import('../store.js')).openCouchStore(context) },
  };
}
