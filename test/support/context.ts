import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { backendHelpers, missingDatabaseError } from '../../src/backends/registry.js';
import type { BackendContext } from '../../src/backends/types.js';
import { configError } from '../../src/config/load.js';

/** A BackendContext as the core builds it, for calling a backend factory directly in tests. */
export function backendContext(
  role: BackendContext['role'],
  section: Record<string, unknown>,
  options: { baseDir?: string; password?: (user: string) => Promise<string> } = {},
): BackendContext {
  return {
    role,
    section,
    baseDir: options.baseDir ?? process.cwd(),
    password:
      options.password ??
      (async (user) => {
        throw new Error(`test asked for a password for ${user}`);
      }),
    helpers: {
      ...backendHelpers,
      configError: (key, problem) => configError('test-config', `${role}.${key}`, problem),
      missingDatabase: (location) => missingDatabaseError('test-config', role, location),
    },
  };
}

/** A temporary directory removed by the returned function. */
export async function tempDir(prefix = 'oproc-test-'): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
