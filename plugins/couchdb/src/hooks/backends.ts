import type { BackendContribution } from 'oproc';

import { openCouchStore } from '../store.js';

/** The `oproc:backends` hook: a document store named `couchdb` (CouchDB 3 HTTP API via nano). */
export default async function backends(): Promise<BackendContribution> {
  return { documentStores: { couchdb: openCouchStore } };
}
