import type { BackendContribution } from 'oproc';

/**
 * The `oproc:backends` hook: a document store named `pouchdb` (PouchDB on disk, embedded). Every
 * command runs every backend hook, and PouchDB alone costs some 30 MB once imported, so it is
 * imported only when a config names it.
 */
export default async function backends(): Promise<BackendContribution> {
  return {
    documentStores: { pouchdb: async (context) => (await import('../store.js')).openPouchStore(context) },
  };
}
