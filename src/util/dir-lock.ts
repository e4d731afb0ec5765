import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { hostname } from 'node:os';

import { OprocError } from '../errors.js';
import { processAlive } from './process.js';

interface Holder {
  pid: number;
  host: string;
  since: string;
  command: string;
}

/**
 * Takes `<dataDir>.lock` for this process, so a second process cannot open an embedded
 * single-user database (PGlite, PouchDB on disk) and corrupt it. A lock left by a dead process on
 * this host is taken over. Returns the release function (also run when the process exits).
 */
export function lockDirectory(dataDir: string, what: string): () => void {
  const lockFile = `${dataDir}.lock`;
  const me: Holder = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    command: process.argv.slice(2).join(' ').slice(0, 200),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        rmSync(lockFile, { force: true });
      };
      process.on('exit', release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readHolder(lockFile);
      if (holder && holder.host === me.host && holder.pid !== me.pid && !processAlive(holder.pid)) {
        rmSync(lockFile, { force: true });
        continue;
      }
      if (holder === undefined) {
        // Written by a process that died between creating and filling it: stale.
        rmSync(lockFile, { force: true });
        continue;
      }
      const by = `process ${holder.pid} on ${holder.host} since ${holder.since}${holder.command ? ` (oproc ${holder.command})` : ''}`;
      throw new OprocError(
        `the ${what} at ${dataDir} is in use by ${by}; an embedded database takes one process at a time`,
        2,
        [`stop that process, or remove ${lockFile} if it is certainly not running`],
      );
    }
  }
  throw new OprocError(`could not take the lock ${lockFile}`);
}

function readHolder(lockFile: string): Holder | undefined {
  try {
    const holder = JSON.parse(readFileSync(lockFile, 'utf8')) as Holder;
    return typeof holder.pid === 'number' ? holder : undefined;
  } catch {
    return undefined;
  }
}
