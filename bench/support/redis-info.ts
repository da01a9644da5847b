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

/** Waits (at most timeoutMs) until no AOF rewrite runs or is scheduled: one would compete with the measured run. */
export async function waitForAofIdle(admin: Redis, progress: (text: string) => void, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await admin.info('persistence');
    if (infoField(info, 'aof_rewrite_in_progress') === 0 && infoField(info, 'aof_rewrite_scheduled') === 0) return;
    if (Date.now() > deadline) return;
    progress('waiting for an AOF rewrite to finish');
    await sleep(100);
  }
}

/**
 * Rewrites the AOF now and waits for it: a measurement that starts on a fresh AOF is not crossed
 * by an automatic rewrite (a forked copy of Redis writing the whole dataset, which competes for
 * the cores and slows the parent's writes through copy-on-write) unless it writes as much again.
 */
export async function rewriteAof(admin: Redis, progress: (text: string) => void): Promise<void> {
  await waitForAofIdle(admin, progress, 300_000);
  await admin.call('BGREWRITEAOF');
  await waitForAofIdle(admin, progress, 300_000);
}
