import { UsageError } from '../errors.js';

// Expiry periods as people write them: "30d", "12h", "52w", "1y" (365 days), "90m" (minutes).

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400, y: 365 * 86400 };

/** Seconds in a period like "30d"; UsageError unless it is a positive whole number of s, m, h, d, w or y. */
export function parseDuration(text: string, what = 'period'): number {
  const m = /^\s*(\d{1,9})\s*([smhdwy])\s*$/.exec(text);
  if (!m) throw new UsageError(`${what} "${text}" is not a duration like 30d, 12h, 52w or 1y`);
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  if (seconds <= 0) throw new UsageError(`${what} "${text}" must be longer than zero (an expiry in the past is never valid)`);
  if (seconds > 100 * 365 * 86400) throw new UsageError(`${what} "${text}" is more than 100 years`);
  return seconds;
}

/** The shortest exact form of a number of seconds: 86400 -> "1d". */
export function formatDuration(seconds: number): string {
  for (const unit of ['y', 'w', 'd', 'h', 'm'] as const) {
    const n = UNIT_SECONDS[unit]!;
    if (seconds >= n && seconds % n === 0) return `${seconds / n}${unit}`;
  }
  return `${seconds}s`;
}

/** How far away `ms` is, roughly, for people: "in 29d 23h", "3h ago". */
export function formatRelative(ms: number): string {
  const abs = Math.abs(ms);
  const d = Math.floor(abs / 86400_000);
  const h = Math.floor((abs % 86400_000) / 3600_000);
  const m = Math.floor((abs % 3600_000) / 60_000);
  const text = d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

/** The expiry date `seconds` after `now`, whole seconds (metadata has no sub-second times). */
export function expiryAfter(now: Date, seconds: number): Date {
  return new Date(Math.floor(now.getTime() / 1000) * 1000 + seconds * 1000);
}
