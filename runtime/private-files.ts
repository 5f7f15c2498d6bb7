/**
 * The data files hold contact e-mails, justifications, the audit trail, workflow state and the key
 * that seals pickups: readable by the service's user only (files 0600, the data directory 0700),
 * whatever the umask says.
 */
import fs from 'node:fs';

const othersBits = 0o077;
const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/** Creates `dir` and any missing parents 0700; a directory that already exists is left as it is. */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * Warns when others can read or enter an existing data directory. It is not changed here: it may be
 * shared (DATA_DIR=/tmp, say), and the files in it are 0600 anyway; the warning says how to fix it.
 */
export function warnIfOpenDir(dir: string): void {
  let mode: number;
  try {
    mode = fs.statSync(dir).mode;
  } catch {
    return; // not there yet: whoever needs it creates it 0700
  }
  if ((mode & othersBits) !== 0) {
    process.emitWarning(`${dir} is ${octal(mode)}: other users can list the data files; run chmod 700 ${JSON.stringify(dir)}`, {
      code: 'PARTNER_ACCESS_OPEN_DATA_DIR',
    });
  }
}

/** Creates `file` (empty) 0600 if it does not exist, and takes group and other bits off it if it does. */
export function ensurePrivateFile(file: string): void {
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  tightenIfExists(file);
}

/** Takes group and other bits off `file` if it exists (files made by an older release, or by SQLite). */
export function tightenIfExists(file: string): void {
  let mode: number;
  try {
    mode = fs.statSync(file).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if ((mode & othersBits) !== 0) fs.chmodSync(file, mode & 0o700);
}
