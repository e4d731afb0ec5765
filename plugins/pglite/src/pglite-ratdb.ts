import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { PGlite } from '@electric-sql/pglite';
import type { BackendContext, Ratdb, SqlClient } from 'oproc';

/** Where the data directory is: `path`, relative to the config file's directory. */
function dataDirectory(context: BackendContext): string {
  const { path: given } = context.section;
  if (typeof given !== 'string' || given === '') {
    throw context.helpers.configError(
      'path',
      'is missing: give the directory of the embedded RATDB, e.g. ".oproc/ratdb"',
    );
  }
  return path.resolve(context.baseDir, given);
}

function sqlClient(db: PGlite, release: () => void): SqlClient {
  return {
    async query<Row>(text: string, params: readonly unknown[] = []) {
      const { rows } = await db.query<Row>(text, [...params]);
      return { rows };
    },
    transaction: (work) =>
      db.transaction((tx) =>
        work({
          query: async <Row>(text: string, params: readonly unknown[] = []) => {
            const { rows } = await tx.query<Row>(text, [...params]);
            return { rows };
          },
        }),
      ),
    async close() {
      try {
        if (!db.closed) await db.close();
      } finally {
        release();
      }
    },
  };
}

/**
 * PostgreSQL's own buffer cache inside PGlite. Its default, 128 MB, is half of what an embedded
 * oproc process holds (PGlite alone: 300 MB resident, 160 MB with 16 MB). RATDB's reads are index
 * probes over a few header rows a run; the data directory's files stay in the operating system's
 * cache beside it, so a small cache costs the reads nothing measurable (docs/PERFORMANCE.md).
 */
const sharedBuffers = '16MB';

/**
 * Opens (creating if needed, unless the command only reads) the embedded RATDB; one process at a
 * time, guarded by a lock file.
 */
export async function openPgliteRatdb(context: BackendContext): Promise<Ratdb> {
  const dataDir = dataDirectory(context);
  // A read creates nothing: no data directory, no parent folders, no lock file.
  if (context.create === false && !existsSync(dataDir)) throw context.helpers.missingDatabase(dataDir);
  // PGlite is single-user: a second process on the same directory could corrupt it, so lock first.
  const release = context.helpers.lockDirectory(dataDir, 'embedded PGlite RATDB');
  try {
    await mkdir(path.dirname(dataDir), { recursive: true });
    const db = await PGlite.create({
      dataDir,
      startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${sharedBuffers}`],
    });
    return context.helpers.sqlRatdb(sqlClient(db, release), dataDir);
  } catch (error) {
    release();
    throw error;
  }
}
