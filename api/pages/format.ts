/**
 * How the pages write times and durations for people. Times are shown in UTC with the zone named
 * (the server does not know the reader's zone, and the pages work without JavaScript); the
 * machine-readable value goes in <time datetime>.
 */

const units: Array<[ms: number, one: string]> = [
  [86_400_000, 'day'],
  [3_600_000, 'hour'],
  [60_000, 'minute'],
  [1000, 'second'],
];

/** A policy duration (milliseconds) in words: "90 days", "1 hour 30 minutes", "2 seconds". */
export function formatDuration(ms: number): string {
  const parts: string[] = [];
  let rest = ms;
  for (const [size, name] of units) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count} ${name}${count === 1 ? '' : 's'}`);
    rest -= count * size;
    if (parts.length === 2) break;
  }
  return parts.join(' ') || `${ms} ms`;
}

/** A rate tier as people read it: "standard: 5 requests per 2 seconds". */
export const formatRateTier = (tier: string, limit: { requests: number; window: number }): string => `${tier}: ${limit.requests} requests per ${formatDuration(limit.window)}`;

/** An ISO instant as "2027-06-30 14:05 UTC" (seconds too when `seconds`). */
export function formatInstant(iso: string, seconds = false): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const text = date.toISOString();
  return `${text.slice(0, 10)} ${text.slice(11, seconds ? 19 : 16)} UTC`;
}
