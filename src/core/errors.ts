// The error catalog: every error that crosses a boundary is a ReboundError with a stable code.
// docs/errors.md lists the same codes; test/core/errors.test.ts fails when the two disagree.

interface CatalogEntry {
  /** HTTP status where the error reaches an HTTP client. */
  readonly status: number;
  /** True when the same operation may succeed later (Redis blip, overload). */
  readonly retriable: boolean;
}

export const errorCatalog = {
  CONFIG_INVALID: { status: 500, retriable: false },
  CONFIG_FILE_UNREADABLE: { status: 500, retriable: false },
  CLI_ROLE_UNKNOWN: { status: 400, retriable: false },
  REDIS_UNAVAILABLE: { status: 503, retriable: true },
  REDIS_BINARY_MISSING: { status: 500, retriable: false },
  REDIS_EMBEDDED_FAILED: { status: 500, retriable: false },
  REDIS_REPLY_ERROR: { status: 500, retriable: false },
  METRICS_ROUTE_NOT_FOUND: { status: 404, retriable: false },
  CODEC_DECODE_FAILED: { status: 400, retriable: false },
  DETECT_STATE_CONFLICT: { status: 503, retriable: true },
  STAGE_ITEM_FAILED: { status: 500, retriable: true },
  STAGE_DELIVERIES_EXCEEDED: { status: 500, retriable: false },
  SHUTDOWN_TIMEOUT: { status: 500, retriable: false },
  SOURCE_INVALID: { status: 400, retriable: false },
  HIT_INVALID: { status: 400, retriable: false },
  TRIGGER_INVALID: { status: 422, retriable: false },
  TRIGGER_MESSAGE_INVALID: { status: 400, retriable: false },
  TEMPLATE_INVALID: { status: 422, retriable: false },
  TEMPLATE_RENDER_FAILED: { status: 422, retriable: false },
  EVENT_INVALID: { status: 422, retriable: false },
  EVENT_IMMUTABLE_FIELD: { status: 409, retriable: false },
  TEST_PROFILE_INVALID: { status: 422, retriable: false },
  TEMPLATE_CHANNEL_MISMATCH: { status: 409, retriable: false },
  TEMPLATE_SMS_TOO_LONG: { status: 422, retriable: false },
  LIFECYCLE_FORBIDDEN: { status: 409, retriable: false },
  DEFINITION_NOT_FOUND: { status: 404, retriable: false },
  DEFINITIONS_CONFLICT: { status: 409, retriable: true },
  INGEST_BODY_MALFORMED: { status: 400, retriable: false },
  INGEST_BODY_ENCODING: { status: 400, retriable: false },
  INGEST_NESTING_TOO_DEEP: { status: 400, retriable: false },
  INGEST_WRITE_KEY_MISSING: { status: 401, retriable: false },
  INGEST_WRITE_KEY_UNKNOWN: { status: 401, retriable: false },
  INGEST_SOURCE_UNKNOWN: { status: 404, retriable: false },
  INGEST_ROUTE_NOT_FOUND: { status: 404, retriable: false },
  INGEST_METHOD_NOT_ALLOWED: { status: 405, retriable: false },
  INGEST_REQUEST_TIMEOUT: { status: 408, retriable: true },
  INGEST_LENGTH_REQUIRED: { status: 411, retriable: false },
  INGEST_BODY_TOO_LARGE: { status: 413, retriable: false },
  INGEST_MESSAGE_TOO_LARGE: { status: 413, retriable: false },
  INGEST_TOO_MANY_HITS: { status: 413, retriable: false },
  INGEST_CONTENT_TYPE: { status: 415, retriable: false },
  INGEST_OVERLOADED: { status: 429, retriable: true },
  INGEST_SHUTTING_DOWN: { status: 503, retriable: true },
  LINK_INVALID: { status: 404, retriable: false },
  PROFILE_INVALID: { status: 422, retriable: false },
  RESOURCE_INVALID: { status: 422, retriable: false },
  RESOURCE_ROW_INVALID: { status: 422, retriable: false },
  RESOURCE_UNKNOWN: { status: 404, retriable: false },
  SUPPRESSION_INVALID: { status: 422, retriable: false },
  IMPORT_FILE_UNREADABLE: { status: 400, retriable: false },
  IMPORT_LINE_MALFORMED: { status: 400, retriable: false },
  IMPORT_LINE_TOO_LONG: { status: 413, retriable: false },
  DEFINITIONS_INVALID: { status: 422, retriable: false },
  BUNDLE_YAML_INVALID: { status: 422, retriable: false },
  BUNDLE_FILE_UNREADABLE: { status: 422, retriable: false },
  BUNDLE_DOCUMENT_INVALID: { status: 422, retriable: false },
  ADMIN_UNAUTHORIZED: { status: 401, retriable: false },
  ADMIN_ROUTE_NOT_FOUND: { status: 404, retriable: false },
  ADMIN_NOT_FOUND: { status: 404, retriable: false },
  ADMIN_METHOD_NOT_ALLOWED: { status: 405, retriable: false },
  ADMIN_BODY_MALFORMED: { status: 400, retriable: false },
  ADMIN_BODY_TOO_LARGE: { status: 413, retriable: false },
  ADMIN_QUERY_INVALID: { status: 400, retriable: false },
  ADMIN_CURSOR_INVALID: { status: 400, retriable: false },
  ADMIN_UNREACHABLE: { status: 503, retriable: true },
  ADMIN_INTERNAL_ERROR: { status: 500, retriable: true },
  PROOF_ADDRESS_MISSING: { status: 422, retriable: false },
  OUTBOX_MESSAGE_INVALID: { status: 400, retriable: false },
  DEMO_NOT_READY: { status: 503, retriable: true },
  DEMO_INGEST_FAILED: { status: 503, retriable: true },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof errorCatalog;

export interface ReboundErrorOptions {
  cause?: unknown;
  /** Index of the offending item in a request or batch. */
  index?: number;
  /** Where in a document the error is (a config key path, a file and line). */
  path?: string;
  /** Overrides the catalog's HTTP status (e.g. 413 vs 400 for one code family). */
  status?: number;
}

export class ReboundError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retriable: boolean;
  readonly index: number | undefined;
  readonly path: string | undefined;

  constructor(code: ErrorCode, message: string, options: ReboundErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ReboundError';
    this.code = code;
    this.status = options.status ?? errorCatalog[code].status;
    this.retriable = errorCatalog[code].retriable;
    this.index = options.index;
    this.path = options.path;
  }

  /** The JSON body every HTTP interface answers with. */
  toJSON(): { error: { code: string; message: string; index?: number; path?: string } } {
    const error: { code: string; message: string; index?: number; path?: string } = {
      code: this.code,
      message: this.message,
    };
    if (this.index !== undefined) error.index = this.index;
    if (this.path !== undefined) error.path = this.path;
    return { error };
  }
}

export function isReboundError(err: unknown, code?: ErrorCode): err is ReboundError {
  return err instanceof ReboundError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a ReboundError, keeping ReboundErrors as they are. */
export function asReboundError(err: unknown, code: ErrorCode = 'STAGE_ITEM_FAILED'): ReboundError {
  if (err instanceof ReboundError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ReboundError(code, message, { cause: err });
}
