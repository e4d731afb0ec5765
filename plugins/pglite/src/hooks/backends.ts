import type { BackendContribution } from 'oproc';

/** The `oproc:backends` hook: a RATDB named `pglite` (PGlite on disk); imported only when used. */
export default async function backends(): Promise<BackendContribution> {
  return {
    ratdbs: { pglite: async (context) => (await import('../pglite-ratdb.js')).openPgliteRatdb(context) },
  };
}
