import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// PGlite has no lock of its own: two processes opening one data folder
// corrupt it. A lock file holding the owner's PID keeps a second process out;
// a lock left by a process that no longer runs is taken over.

export class DataDirInUseError extends Error {}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function tryCreate(path: string): boolean {
  try {
    writeFileSync(path, String(process.pid), { flag: "wx" });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/** Takes the lock on dir; returns the function that releases it. */
export function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "service.lock");
  if (!tryCreate(path)) {
    const owner = Number.parseInt(readFileSync(path, "utf8"), 10);
    if (Number.isInteger(owner) && owner !== process.pid && isRunning(owner)) {
      throw new DataDirInUseError(
        `data directory ${dir} is in use by process ${owner}; stop it or set DATA_DIR to another folder`,
      );
    }
    rmSync(path, { force: true });
    if (!tryCreate(path)) throw new DataDirInUseError(`data directory ${dir} was locked by another process just now`);
  }
  return () => rmSync(path, { force: true });
}
