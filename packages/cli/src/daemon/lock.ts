import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from '../errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One daemon per state directory: an exclusive lock file holding our pid. A lock left by a process
 * that is gone (a crash, kill -9) is taken over. Returns the release function.
 */
export async function acquireStateLock(stateDir: string): Promise<() => Promise<void>> {
  const path = join(stateDir, 'spritzle.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return async () => {
        const owner = await readFile(path, 'utf8').catch(() => '');
        if (Number(owner.trim()) === process.pid) await unlink(path).catch(() => undefined);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new CliError(`another spritzle daemon (pid ${pid}) is using the state directory ${stateDir}`);
      }
      await unlink(path).catch(() => undefined);
    }
  }
  throw new CliError(`cannot lock the state directory ${stateDir}`);
}
