import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkClock, readNewestTrustedTime, TIME_FILE, timeRecord } from '../../src/client/trusted-time.js';
import { ClockRollbackError } from '../../src/errors.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tufkit-time-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const t = (s: string): Date => new Date(s);

/** What the updater does after a refresh (under the dir's lock): records `time` unless a later one is. */
async function recordTrustedTime(dir: string, time: Date): Promise<void> {
  const record = timeRecord(time, await readNewestTrustedTime(dir));
  if (record) await writeFile(path.join(dir, TIME_FILE), record);
}

describe('newest trusted time', () => {
  it('is kept in a dot-file that is not *.json, and only moves forward', async () => {
    expect(TIME_FILE.endsWith('.json')).toBe(false);
    await recordTrustedTime(dir, t('2030-01-02T00:00:00Z'));
    await recordTrustedTime(dir, t('2030-01-01T00:00:00Z'));
    expect(await readNewestTrustedTime(dir)).toEqual(t('2030-01-02T00:00:00Z'));
    expect(await readdir(dir)).toEqual([TIME_FILE]);
  });

  it('refuses a clock set back beyond the tolerance', async () => {
    await recordTrustedTime(dir, t('2030-01-01T12:00:00Z'));
    await expect(checkClock(dir, t('2030-01-01T11:58:00Z'), 60_000)).rejects.toBeInstanceOf(ClockRollbackError);
    await expect(checkClock(dir, t('2029-06-01T00:00:00Z'), 60_000)).rejects.toBeInstanceOf(ClockRollbackError);
  });

  it('accepts a clock within the tolerance, later, or with nothing recorded', async () => {
    await checkClock(dir, t('2000-01-01T00:00:00Z'), 60_000);
    await recordTrustedTime(dir, t('2030-01-01T12:00:00Z'));
    await checkClock(dir, t('2030-01-01T11:59:30Z'), 60_000);
    await checkClock(dir, t('2031-01-01T00:00:00Z'), 60_000);
  });

  it('ignores an unreadable record (it is a safeguard, not a trust anchor)', async () => {
    await writeFile(path.join(dir, TIME_FILE), 'garbage');
    expect(await readNewestTrustedTime(dir)).toBeUndefined();
    await checkClock(dir, t('2000-01-01T00:00:00Z'), 0);
  });
});
