// What the campaign side reads of a visitor's detect state (SPEC §6.2, §6.4): the ids the visitor
// declared since the trigger fired (identify / alias / cid.* hits), the profile a click linked it
// to, and whether the visit has since satisfied the trigger's exclude (`converted`). Field names
// are detect's (lua/detect-apply.lua): `ids` JSON, per-visit fields prefixed by the visit's
// parity and the trigger's slot; `link` is written by the click redirect.
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import type { FiredRecord } from '../../model/trigger-message.js';
import { visitorLinkField } from '../../model/visitor-link.js';

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

export async function visitorSnapshot(redis: RedisPort, keys: Keys, partition: number, record: FiredRecord): Promise<VisitorSnapshot> {
  const visit = record.visit;
  const excludeField = visit === undefined ? 'vn' : `${visit.number % 2 === 1 ? 'a' : 'b'}${visit.slot}x`;
  const [ids, link, vn, excluded] = await redis.hmget(keys.visitor(partition, record.visitorId), ['ids', visitorLinkField, 'vn', excludeField]);
  const current = vn === null ? undefined : Number(vn);
  const converted =
    visit !== undefined && convertible.has(record.type) && current !== undefined && current - visit.number < 2 && excluded !== null && excluded !== undefined;
  return { aliases: parseIds(ids ?? null), ...(link ? { link } : {}), converted };
}
