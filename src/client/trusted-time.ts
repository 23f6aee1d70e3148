import { join } from 'node:path';
import { ClockRollbackError } from '../errors.js';
import { formatExpires } from '../models/fields.js';
import { isDiskFailure, readFileCapped } from './atomic-file.js';

/** The newest time at which this metadata dir trusted metadata (not *.json: it is not metadata). */
export const TIME_FILE = '.tufkit-time';
const READ = 'read the newest trusted time';
/** What a failure to write TIME_FILE says was being done. */
export const RECORD_TIME = 'record the newest trusted time';

/**
 * The recorded newest trusted time, or undefined when none: missing, not a date, too long, or a
 * folder in its place (it is only a safeguard; the next record replaces an empty folder). A disk
 * that cannot be read is a FileSystemError, not a silently disabled safeguard.
 */
export async function readNewestTrustedTime(dir: string): Promise<Date | undefined> {
  const bytes = await readFileCapped(join(dir, TIME_FILE), 64, READ).catch((e: unknown) => {
    if (isDiskFailure(e)) throw e;
    return undefined;
  });
  if (!bytes) return undefined;
  const ms = Date.parse(Buffer.from(bytes).toString('utf8').trim());
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/**
 * Refuses a clock that is more than `toleranceMs` before a time at which metadata was already
 * trusted: a clock set back would make expired metadata look valid again (tough does the same).
 */
export async function checkClock(dir: string, now: Date, toleranceMs: number): Promise<Date | undefined> {
  const newest = await readNewestTrustedTime(dir);
  if (newest && now.getTime() < newest.getTime() - toleranceMs) {
    throw new ClockRollbackError(
      `system clock ${formatExpires(now)} is before ${formatExpires(newest)}, when metadata in ${dir} was already trusted ` +
        `(recorded in ${TIME_FILE}); fix the clock, or delete that file if the clock was wrong back then`,
    );
  }
  return newest;
}

/**
 * The content of TIME_FILE recording `time`, or undefined when `recorded` (what the file holds,
 * as read under the dir's lock, so still current) is already as late.
 */
export function timeRecord(time: Date, recorded: Date | undefined): Uint8Array | undefined {
  return recorded && recorded.getTime() >= time.getTime() ? undefined : Buffer.from(`${time.toISOString()}\n`);
}
