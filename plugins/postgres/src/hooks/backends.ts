import type { BackendContribution } from 'oproc';

import { openPostgresRatdb } from '../postgres-ratdb.js';

export default async function backends(): Promise<BackendContribution> {
  return { ratdbs: { postgres: openPostgresRatdb } };
}
