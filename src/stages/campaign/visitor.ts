// What the campaign side reads of a visitor's detect state (SPEC §6.2, §6.4): the ids the visitor
// declared since the trigger fired (identify / alias / cid.* hits), the profile a click linked it
// to, and whether the visit has since satisfied the trigger's exclude (`converted`). The fields
// are copies detect keeps beside its state (stages/detect/visitor-state.ts): `ids` JSON, `vn`,
// and per trigger the visit's excluded hit, named by the visit's parity and the trigger's slot;
// `link` (model/visitor-link.ts) is written by the click redirect.
// A batch is read in one script call (lua/visitors-read.lua).
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import type { FiredRecord } from '../../model/trigger-message.js';

export interface VisitorSnapshot {
  aliases: Record<string, string>;
  link?: string;
  converted: boolean;
}

/** Trigger types for which any exclude hit blocks firing, so one seen after firing means a conversion. */
const convertible = new Set(['abandonment', 'sessionEnd']);

function parseIds(json: string | null): Record<string, string> {
  if (json === null || json === '') return {};
  try {
    const parsed = JSON.parse(json) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return {};
    const ids: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [name, value] of Object.entries(parsed)) if (typeof value === 'string') ids[name] = value;
    return ids;
  } catch {
    return {};
  }
}

/** The visit field marking an exclude hit of the record's trigger, or '' without a visit. */
function excludeField(record: FiredRecord): string {
  const visit = record.visit;
  return visit === undefined ? '' : `${visit.number % 2 === 1 ? 'a' : 'b'}${visit.slot}x`;
}

type Fields = [ids: string | null, link: string | null, vn: string | null, excluded: string | null];

function snapshotOf(record: FiredRecord, [ids, link, vn, excluded]: Fields): VisitorSnapshot {
  const visit = record.visit;
  const current = vn === null ? undefined : Number(vn);
  const converted = visit !== undefined && convertible.has(record.type) && current !== undefined && current - visit.number < 2 && excluded !== null;
  return { aliases: parseIds(ids), ...(link ? { link } : {}), converted };
}

/** The snapshots of a batch's visitors (all of one partition) in one script call, in order. */
export async function visitorSnapshots(redis: RedisPort, keys: Keys, partition: number, records: readonly FiredRecord[]): Promise<VisitorSnapshot[]> {
  if (records.length === 0) return [];
  const replies = (await redis.script(
    'reboundVisitorsRead',
    records.map((r) => keys.visitor(partition, r.visitorId)),
    records.map(excludeField),
  )) as Array<Array<string | null>>;
  // Lua's false (absent field) arrives as null.
  return records.map((record, i) => snapshotOf(record, (replies[i] ?? [null, null, null, null]).map((v) => v ?? null) as Fields));
}
