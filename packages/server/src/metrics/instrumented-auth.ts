/**
 * An Authenticator decorator that counts refused credentials by reason
 * (`taskwire_auth_failures_total{reason}`), for every transport at once (WebSocket
 * auth and refresh, HTTP and SSE bearer tokens, tickets).
 */
import { AuthError, type Authenticator } from '../auth/types.js';
import type { Metrics } from './metrics.js';

export function instrumentAuthenticator(auth: Authenticator, metrics: Metrics): Authenticator {
  const failures = metrics.authFailures;
  const counted =
    <A extends unknown[], T>(fn: (...args: A) => Promise<T>) =>
    async (...args: A): Promise<T> => {
      try {
        return await fn(...args);
      } catch (err) {
        if (err instanceof AuthError) failures.inc({ reason: err.reason });
        throw err;
      }
    };
  return {
    verifyToken: counted((token: string) => auth.verifyToken(token)),
    isApiKey: (value) => auth.isApiKey(value),
    issueTicket: (principal) => auth.issueTicket(principal),
    redeemTicket: counted((ticket: string) => auth.redeemTicket(ticket)),
  };
}
