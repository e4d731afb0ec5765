import type { BackendContribution } from 'oproc';

import { openPouchStore } from '../store.js';

/** The `oproc:backends` hook: a document store named `pouchdb` (PouchDB on disk, embedded). */
export default async function backends(): Promise<BackendContribution> {
  return { documentStores: { pouchdb: openPouchStore } };
}
