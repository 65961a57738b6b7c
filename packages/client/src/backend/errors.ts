import type { ErrorCode } from '@taskwire/protocol';

/** `network` (no answer at all, after retries) and `timeout` are the backend client's own. */
export type ApiErrorCode = ErrorCode | 'network' | 'timeout';

/** A failed API call: the protocol's error code and the HTTP status (0 when there was no answer). */
export class TaskwireApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  constructor(code: ApiErrorCode, message: string, status: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TaskwireApiError';
    this.code = code;
    this.status = status;
  }
}
