/**
 * The one catalogue of error codes used in WebSocket replies, `error` frames and
 * HTTP bodies. `docs/errors.md` documents each code with how to fix it; a test
 * keeps the two in sync.
 */
export const ERROR_CODES = {
  bad_request: { status: 400, summary: 'The request or frame is malformed or a field is invalid.' },
  unauthorized: { status: 401, summary: 'No valid credentials: token missing, invalid or expired.' },
  forbidden: { status: 403, summary: 'Authenticated, but not allowed to do this.' },
  not_found: { status: 404, summary: 'The task or route does not exist (or is not yours).' },
  conflict: { status: 409, summary: 'The change is not allowed in the current state.' },
  rate_limited: { status: 429, summary: 'Too many requests or frames.' },
  too_large: { status: 413, summary: 'The body or frame is over its size limit.' },
  limit_exceeded: { status: 429, summary: 'A configured limit (subscriptions, connections) is reached.' },
  unavailable: { status: 503, summary: 'The engine (storage or broker) cannot be reached.' },
  internal: { status: 500, summary: 'An unexpected server error; it is logged.' },
} as const satisfies Record<string, { status: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const errorCodes = Object.keys(ERROR_CODES) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** The shape of an error on the wire: `{code, message}`. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

/** An error carrying a code from the catalogue. Thrown by reduce() and by the server. */
export class TaskwireError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TaskwireError';
    this.code = code;
  }

  get status(): number {
    return httpStatusOf(this.code);
  }

  toJSON(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

export function isTaskwireError(err: unknown): err is TaskwireError {
  return err instanceof TaskwireError;
}
