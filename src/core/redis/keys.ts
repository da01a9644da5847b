// The one key builder. Every key of a partition carries the same Redis Cluster hash tag
// ({p7}), so a partition lives on one shard and multi-key scripts work inside it.

/** Logical stream names: `hits`, `fired`, `out:email`, … (what flows between stages). */
export type StreamName = string;

/** FNV-1a over UTF-16 code units: fast, stable across processes and versions. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** MurmurHash3's finaliser: FNV-1a's low bits depend on few input bits; partitions use low bits. */
function mix(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

export class Keys {
  readonly prefix: string;
  readonly partitions: number;
  readonly #tags: string[];

  constructor(prefix: string, partitions: number) {
    this.prefix = prefix;
    this.partitions = partitions;
    this.#tags = Array.from({ length: partitions }, (_, p) => `${prefix}:{p${p}}`);
  }

  /** The partition of a visitor (or of any routing key). */
  partitionOf(routingKey: string): number {
    return mix(hashString(routingKey)) % this.partitions;
  }

  /** All partition numbers, 0 … P-1. */
  allPartitions(): number[] {
    return Array.from({ length: this.partitions }, (_, p) => p);
  }

  stream(partition: number, name: StreamName): string {
    return `${this.#tags[partition]}:${name}`;
  }

  /** The dead-letter stream of one stream of a partition. */
  deadLetters(partition: number, name: StreamName): string {
    return `${this.#tags[partition]}:dlq:${name}`;
  }

  /** Last error of each failing entry of a consumer group, kept until it succeeds or is dead-lettered. */
  stageErrors(partition: number, name: StreamName, group: string): string {
    return `${this.#tags[partition]}:errors:${name}:${group}`;
  }

  /** Definitions of one kind (`sources`, …): a hash, field = definition id, value = JSON. */
  definitions(kind: string): string {
    return `${this.prefix}:defs:${kind}`;
  }

  /** Counter INCR'ed on every definition change; processes poll it and reload when it moves. */
  definitionsVersion(): string {
    return `${this.prefix}:defs:version`;
  }

  /** A visitor's state: visit, de-duplication, aliases and per-trigger progress (detect). */
  visitor(partition: number, visitorId: string): string {
    return `${this.#tags[partition]}:v:${visitorId}`;
  }

  /** Due times of a partition's trigger timers (detect), member `slot|visit|visitorId`. */
  timers(partition: number): string {
    return `${this.#tags[partition]}:timers`;
  }

  /** A message's record: status, reason, hop timestamps (src/model/message.ts). */
  message(partition: number, messageId: string): string {
    return `${this.#tags[partition]}:msg:${messageId}`;
  }

  /** An event's recent message ids in a partition, score = received time (reports, newest first). */
  eventMessages(partition: number, eventId: string): string {
    return `${this.#tags[partition]}:msgs:${eventId}`;
  }

  /** Campaign outcome counters of a trigger in a partition: fields `<eventId>|<status>[|<reason>]`. */
  triggerStats(partition: number, triggerId: string): string {
    return `${this.#tags[partition]}:stats:${triggerId}`;
  }

  /** A profile (JSON string). Profiles are not partitioned: Redis Cluster spreads them by key. */
  profile(profileId: string): string {
    return `${this.prefix}:profile:${profileId}`;
  }

  /** Profile ids whose indexed `field` (email, phone, …) normalises to `value`: a set. */
  profileIndex(field: string, value: string): string {
    return `${this.prefix}:pidx:${field}:${value}`;
  }

  /** One row of a resource table (JSON string), `catalog` keyed by sku. */
  resourceRow(resource: string, key: string): string {
    return `${this.prefix}:res:${resource}:${key}`;
  }

  /** The global suppression list: normalised addresses and phone numbers (a set). */
  suppressions(): string {
    return `${this.prefix}:suppressed`;
  }

  /** A profile's sends for fatigue rules: zset member `<messageId>|<channel>`, score = send time. */
  fatigue(profileId: string): string {
    return `${this.prefix}:fatigue:${profileId}`;
  }

  /** Pub/sub channel announcing profile and resource writes, so every LRU cache drops them. */
  invalidations(): string {
    return `${this.prefix}:invalidate`;
  }

  /** Installation-wide metadata (partition count, versions). */
  meta(): string {
    return `${this.prefix}:meta`;
  }
}
