/**
 * One process per data directory. PGlite is a single-user PostgreSQL: two processes writing
 * one directory corrupt it, and the usual way to get there is starting the CLI twice. A lock
 * file holding the owner's pid refuses the second start; a lock left by a process that died
 * is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigurationError } from '@tollgate/core';

const LOCK_FILE = 'tollgate.lock';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Take the lock of `dataDir`; returns the function that releases it.
 *
 * @example
 * const release = lockDataDir('./.tollgate-data');
 * // … use the directory …
 * release();
 */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new ConfigurationError(
          `The data directory ${dataDir} is in use by process ${owner}${owner === process.pid ? ' (this one)' : ''}; stop that server (or close it) first, or use another --data-dir (if no server is running, delete ${path}).`,
        );
      }
      rmSync(path, { force: true }); // left behind by a process that is gone
    }
  }
  throw new ConfigurationError(`Could not lock the data directory ${dataDir}; try again.`);
}
