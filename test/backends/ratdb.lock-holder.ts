/** A second process for the PGlite lock test: opens the RATDB at argv[2], says so, and waits to be killed. */
import { openPgliteRatdb } from '../../plugins/pglite/src/pglite-ratdb.js';
import { backendContext } from '../support/context.js';

const ratdb = await openPgliteRatdb(backendContext('ratdb', { backend: 'pglite', path: process.argv[2] }));
process.stdout.write(`open ${ratdb.description}\n`);
setInterval(() => undefined, 60_000);
