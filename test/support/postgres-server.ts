import type { RunningServer } from './servers.js';

export async function startPostgres(): Promise<RunningServer> {
  throw new Error('not yet');
}
