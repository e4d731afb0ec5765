import type { BackendContribution } from 'oproc';

import { openPgliteRatdb } from '../pglite-ratdb.js';

export default async function backends(): Promise<BackendContribution> {
  return { ratdbs: { pglite: openPgliteRatdb } };
}
