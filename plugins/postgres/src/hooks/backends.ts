import type { BackendContribution } from 'oproc';

/** The `oproc:backends` hook: a RATDB named `postgres` (pg); the driver is imported only when used. */
export default async function backends(): Promise<BackendContribution> {
  return {
    ratdbs: {
      postgres: async (context) => (await import('../postgres-ratdb.js')).openPostgresRatdb(context),
    },
  };
}
