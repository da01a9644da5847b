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

  /**
   * Definitions of one kind (`sources`, …): a hash, field = definition id, value = JSON. Every
   * definitions key shares the hash tag `{defs}`, so `rebound apply` writes a whole bundle in
   * one Lua script, on Redis Cluster too (one slot).
   */
  definitions(kind: string): string {
    return `${this.prefix}:{defs}:${kind}`;
  }

  /** Live consumers of a stage (zset, score = end of membership), which share its partitions (stages.partitions: shared). */
  stageMembers(stage: string, input: StreamName): string {
    return `${this.prefix}:members:${stage}:${input}`;
  }

  /** Counter INCR'ed on every definition change; processes poll it and reload when it moves. */
  definitionsVersion(): string {
    return `${this.prefix}:{defs}:version`;
  }

  /** A visitor's state: visit, de-duplication, aliases and per-trigger progress (detect). */
  visitor(partition: number, visitorId: string): string {
    return `${this.#tags[partition]}:v:${visitorId}`;
  }

  /**
   * The token of the last detect write to any visitor state of a partition (apply or fire): a
   * process whose token is still there knows nobody else wrote since (src/stages/detect/visitor-cache.ts).
   */
  visitorsWritten(partition: number): string {
    return `${this.#tags[partition]}:vw`;
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

  /**
   * Trigger messages detect fired in a partition during one UTC day (`day` = floor(epoch ms /
   * 86 400 000)): hash, field = start of the hour (epoch ms), value = count. One key per day, so
   * old hours leave with their key (kept 6 days); the trigger report sums the partitions.
   */
  firedHourly(partition: number, triggerId: string, day: number): string {
    return `${this.#tags[partition]}:fired-h:${triggerId}:${day}`;
  }

  /** Deliver's idempotency claim of a message (hash: state, entry, attempts, bytes while a retry waits). */
  deliveryClaim(partition: number, messageId: string): string {
    return `${this.#tags[partition]}:claim:${messageId}`;
  }

  /** Deliver's delayed retries of a channel in a partition: zset, member = message id, score = due time. */
  deliveryRetries(partition: number, channel: string): string {
    return `${this.#tags[partition]}:retry:${channel}`;
  }

  /** An SMSC message id → `<partition>|<message id>`, so a delivery receipt finds its record. */
  smscMessage(smscId: string): string {
    return `${this.prefix}:smsc:${smscId}`;
  }

  /** A profile's messages (reports): zset member `<partition>|<messageId>`, score = received time. */
  profileMessages(profileId: string): string {
    return `${this.prefix}:pmsgs:${profileId}`;
  }

  /**
   * Campaign jobs waiting in a partition (late identity, quiet hours): zset member = message id,
   * score = when to look again; the job itself is in `campaignJobs`.
   */
  campaignWaiting(partition: number): string {
    return `${this.#tags[partition]}:cwait`;
  }

  /** Trigger messages queued while their event is paused: zset member = message id, score = expiry. */
  campaignPaused(partition: number, eventId: string): string {
    return `${this.#tags[partition]}:cpaused:${eventId}`;
  }

  /** Encoded campaign jobs of the partition's waiting and paused sets: hash field = message id. */
  campaignJobs(partition: number): string {
    return `${this.#tags[partition]}:cjobs`;
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

  /** The secret signing unsubscribe and tracked-link tokens (generated once per installation). */
  linkSecret(): string {
    return `${this.prefix}:link-secret`;
  }

  /** Installation-wide metadata (partition count, versions). */
  meta(): string {
    return `${this.prefix}:meta`;
  }

  /** Live processes (`rebound status`): hash, field = instance, value = JSON (metrics URL, roles, heartbeat). */
  processes(): string {
    return `${this.prefix}:procs`;
  }

  /** Streams read by Rebound's stages: hash, field = logical stream name, value = its groups, comma-separated. */
  streamRegistry(): string {
    return `${this.prefix}:streams`;
  }

  /** Lease of the one process that collects the installation's stream gauges (SET NX PX, renewed). */
  metricsLease(): string {
    return `${this.prefix}:lease:metrics`;
  }
}
