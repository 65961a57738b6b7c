/** The server-side taskwire client (the API key never leaves this process) and the browser token. */
import 'server-only';
import { createHmac } from 'node:crypto';
import { createBackend, type TaskwireBackend } from '@taskwire/client/backend';
import { settings } from './settings';

let backend: TaskwireBackend | undefined;

export function taskwire(): TaskwireBackend {
  backend ??= createBackend({ url: settings.url, apiKey: settings.apiKey });
  return backend;
}

const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

/**
 * A short-lived client token for `user`: an HS256 JWT signed with the server's
 * secret, valid 10 minutes (the browser client asks for a new one before it runs
 * out). It goes into the WebSocket's first frame, never into a URL.
 */
export function browserToken(user: string, ttlSeconds = 600): string {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ sub: user, iat: now, exp: now + ttlSeconds }));
  const mac = createHmac('sha256', settings.jwtSecret).update(`${head}.${body}`).digest();
  return `${head}.${body}.${b64url(mac)}`;
}
