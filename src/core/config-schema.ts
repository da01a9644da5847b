// The one configuration schema: types, defaults and validation. config/rebound.yaml documents
// every key with its default; test/core/config.test.ts keeps the two in step.
import { z } from 'zod';
import { parseDuration } from './duration.js';

/** A duration string ("10s", "15m") parsed once into milliseconds. */
export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${text}" is not a duration such as 500ms, 10s, 15m, 12h or 3d` });
        return z.NEVER;
      }
      return ms;
    });

const port = z.number().int().min(0).max(65535);
const ratio = z.number().min(0).max(1);

const redisSchema = z
  .object({
    url: z.string().url().nullable().default(null),
    cluster: z.array(z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port')).default([]),
    connectTimeout: duration('5s'),
    embedded: z
      .object({
        binary: z.string().default('redis-server'),
        appendfsync: z.enum(['always', 'everysec', 'no']).default('everysec'),
        maxmemory: z.string().default('0'),
      })
      .strict()
      .default({}),
  })
  .strict()
  .default({});

const stagesSchema = z
  .object({
    batchSize: z.number().int().min(1).max(10_000).default(100),
    batchBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(262_144),
    maxInFlight: z.number().int().min(1).max(1024).default(8),
    claimIdle: duration('15s'),
    maxDeliveries: z.number().int().min(1).max(1000).default(5),
    idlePoll: duration('50ms'),
    linger: duration('10ms'),
    recoverEvery: duration('5s'),
    trimEvery: duration('10s'),
    partitions: z.union([z.literal('shared'), z.literal('all'), z.array(z.number().int().min(0))]).default('shared'),
  })
  .strict()
  .default({});

const listenerSchema = (host: string, defaultPort: number) =>
  z.object({ host: z.string().default(host), port: port.default(defaultPort) }).strict().default({});

const ingestSchema = z
  .object({
    host: z.string().default('0.0.0.0'),
    port: port.default(8080),
    maxLag: z.number().int().min(1).default(1_000_000),
    maxRedisMemoryRatio: ratio.default(0.9),
    maxBodyBytes: z.number().int().min(1024).default(5_242_880),
    maxInFlightBytes: z.number().int().min(65_536).default(67_108_864),
    maxConnectionInFlightBytes: z.number().int().min(65_536).default(8_388_608),
    requestTimeout: duration('10s'),
    idleTimeout: duration('120s'),
    flushHits: z.number().int().min(1).max(100_000).default(2000),
    flushWindow: duration('1ms'),
    sourcesPoll: duration('1s'),
    overloadSample: duration('1s'),
  })
  .strict()
  .default({});

const detectSchema = z
  .object({
    settle: duration('1s'),
    timerTick: duration('100ms'),
    timerBatch: z.number().int().min(1).max(100_000).default(1000),
    definitionsPoll: duration('1s'),
    logRetention: duration('3d'),
    visitorTtl: duration('7d').refine((ms) => ms >= 86_400_000, 'must be at least 1d (a visit and its longest inactivity timer must fit)'),
    imsOrg: z.string().default('rebound@AdobeOrg'),
    stateCache: z.number().int().min(1).max(10_000_000).default(50_000),
    maxInFlight: z.number().int().min(1).max(1024).default(16),
  })
  .strict()
  .default({});

const cacheSchema = (max: number) =>
  z
    .object({
      max: z.number().int().min(1).max(10_000_000).default(max),
      ttl: duration('5m'),
      negativeTtl: duration('30s'),
    })
    .strict()
    .default({});

const campaignSchema = z
  .object({
    definitionsPoll: duration('1s'),
    recordRetention: duration('7d'),
    profileCache: cacheSchema(100_000),
    resourceCache: cacheSchema(100_000),
    identityCache: cacheSchema(100_000),
    indexedFields: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/)).default(['email', 'phone']),
    defaultTimezone: z.string().default('UTC'),
    publicUrl: z.string().url().default('http://localhost:8080'),
    smsMaxSegments: z.number().int().min(1).max(20).default(3),
  })
  .strict()
  .default({});

const backoffSchema = (base: string, max: string) => z.object({ base: duration(base), max: duration(max) }).strict().default({});

const smtpSchema = z
  .object({
    url: z.string().url().nullable().default(null),
    fallbackUrl: z.string().url().nullable().default(null),
    ca: z.string().nullable().default(null),
    pool: z
      .object({
        maxConnections: z.number().int().min(1).max(256).default(8),
        maxMessages: z.number().int().min(1).default(1000),
        rateDelta: duration('1s'),
        rateLimit: z.number().int().min(0).default(0),
      })
      .strict()
      .default({}),
    dkim: z.object({ domainName: z.string().min(1), keySelector: z.string().min(1), privateKeyFile: z.string().min(1) }).strict().nullable().default(null),
    breaker: z.object({ failures: z.number().int().min(1).default(3), coolDown: duration('30s') }).strict().default({}),
  })
  .strict()
  .default({});

const smppSchema = z
  .object({
    url: z.string().url().nullable().default(null),
    sourceAddr: z.string().min(1).max(20).default('Rebound'),
    enquireLink: duration('30s'),
    window: z.number().int().min(1).max(1000).default(10),
    reconnect: backoffSchema('500ms', '30s'),
    receiptRetention: duration('3d'),
  })
  .strict()
  .default({});

const deliverSchema = z
  .object({
    budget: duration('15m'),
    defaultFrom: z.string().min(3).default('Rebound <rebound@localhost>'),
    sendTimeout: duration('5s'),
    concurrency: z.object({ email: z.number().int().min(1).max(10_000).default(64), sms: z.number().int().min(1).max(10_000).default(32) }).strict().default({}),
    retry: backoffSchema('30s', '30m'),
    retryEvery: duration('500ms'),
    retryBatch: z.number().int().min(1).max(10_000).default(100),
    retryLease: duration('1m'),
    claimRetention: duration('1d'),
    smtp: smtpSchema,
    smpp: smppSchema,
    webhook: z.object({ url: z.string().url().nullable().default(null), secret: z.string().min(16).nullable().default(null) }).strict().default({}),
  })
  .strict()
  .superRefine((deliver, ctx) => {
    if (deliver.webhook.url !== null && deliver.webhook.secret === null) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['webhook', 'secret'], message: 'a webhook url needs a secret (REBOUND_SMS_WEBHOOK_SECRET) to sign its requests' });
    }
    if (deliver.sendTimeout * 2 > deliver.retryLease) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['retryLease'], message: 'retryLease must be at least twice sendTimeout' });
    }
  })
  .default({});

export const configSchema = z
  .object({
    prefix: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, 'letters, digits, _ . - (at most 32)').default('rb'),
    dataDir: z.string().default('.rebound'),
    partitions: z.number().int().min(1).max(1024).default(16),
    instance: z.string().nullable().default(null),
    shutdownTimeout: duration('10s'),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).strict().default({}),
    redis: redisSchema,
    stages: stagesSchema,
    ingest: ingestSchema,
    detect: detectSchema,
    campaign: campaignSchema,
    deliver: deliverSchema,
    admin: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: port.default(8081),
        token: z.string().min(16).nullable().default(null),
        maxBodyBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(16_777_216),
      })
      .strict()
      .default({}),
    metrics: listenerSchema('127.0.0.1', 9464),
    demo: z
      .object({
        firstStart: z.boolean().default(true),
        definitions: z.string().min(1).default('config/definitions'),
      })
      .strict()
      .default({}),
  })
  .strict();

export type ReboundConfig = z.output<typeof configSchema>;
export type ReboundConfigInput = z.input<typeof configSchema>;
