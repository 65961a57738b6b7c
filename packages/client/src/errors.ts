import type { ErrorCode } from '@taskwire/protocol';

/** Codes the client adds to the protocol's catalogue for failures it detects itself. */
export type ClientErrorCode = ErrorCode | 'timeout' | 'disconnected' | 'token' | 'released';

/** An error surfaced by the client: a protocol code from a reply or error frame, or a local one. */
export class TaskwireClientError extends Error {
  readonly code: ClientErrorCode;
  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TaskwireClientError';
    this.code = code;
  }
}
