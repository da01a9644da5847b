// Fired counts per trigger and hour (SPEC §8's trigger report): lua/detect-fire.lua adds one to
// the hour's field of the day's hash (`keys.firedHourly`) with each trigger message it appends,
// and the admin API sums them over partitions. One hash per UTC day, kept 6 days after its last
// write, so at least 5 whole days of hours are always there and nothing needs pruning.

export const hourMs = 3_600_000;
export const dayMs = 86_400_000;
/** How long a day's counters stay after their last write. */
export const firedHourlyTtlMs = 6 * dayMs;
/** Hours a trigger report can show: every hour of the last 5 days and the current one. */
export const firedHourlyMaxHours = 5 * 24 + 1;

/** The day number of an instant (its `keys.firedHourly` key). */
export const dayOf = (ms: number): number => Math.floor(ms / dayMs);

/** The start of the hour of an instant (its field). */
export const hourOf = (ms: number): number => ms - (((ms % hourMs) + hourMs) % hourMs);
