/** A second process for the PouchDB lock test: opens the store at argv[2], says so, and waits to be killed. */
import { openPouchStore } from '../../plugins/pouchdb/src/store.js';
import { backendContext } from '../support/context.js';

const store = await openPouchStore(
  backendContext('processing', { backend: 'pouchdb', path: process.argv[2] }),
);
process.stdout.write(`open ${store.description}\n`);
setInterval(() => undefined, 60_000);
