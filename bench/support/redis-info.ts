// Reading Redis INFO in the benchmarks, and the number format of their notes.
import type { Redis } from 'ioredis';
import { sleep } from './harness.js';

/** A numeric field of an INFO reply (NaN when absent). */
export function infoField(info: string, field: string): number {
  const match = new RegExp(`^${field}:([^\\r\\n]*)`, 'm').exec(info);
  return match ? Number(match[1]) : NaN;
}

/** Rounded, with thousands separators: how the notes show rates and counts. */
export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Waits (at most 30 s) until no AOF rewrite runs or is scheduled: one would compete with the measured run. */
export async function waitForAofIdle(admin: Redis, progress: (text: string) => void): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const info = await admin.info('persistence');
    if (infoField(info, 'aof_rewrite_in_progress') === 0 && infoField(info, 'aof_rewrite_scheduled') === 0) return;
    if (Date.now() > deadline) return;
    progress('waiting for an AOF rewrite to finish');
    await sleep(100);
  }
}
