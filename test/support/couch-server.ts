import type { RunningServer } from './servers.js';

export async function startCouch(): Promise<RunningServer> {
  throw new Error('not yet');
}
