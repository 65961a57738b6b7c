/**
 * Every setting of the example, read on the server only (nothing is inlined into
 * the browser bundle at build time, so one build runs anywhere):
 *
 * - TASKWIRE_URL         taskwire's base URL as this server reaches it (http://127.0.0.1:8080)
 * - TASKWIRE_PUBLIC_URL  taskwire's base URL as the browser reaches it (default: TASKWIRE_URL).
 *                        The browser's WebSocket URL is built from this one setting only,
 *                        by websocketUrl(), so no prefix is ever doubled.
 * - TASKWIRE_API_KEY     the server's API key (creates and updates tasks, reads snapshots)
 * - TASKWIRE_JWT_SECRET  the server's JWT secret (signs the signed-in user's browser token)
 * - JOB_STEPS, JOB_STEP_MS  the size of the fake job (20 steps of 250 ms)
 */
import 'server-only';
import { websocketUrl } from '@taskwire/client/backend';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (see examples/nextjs/README.md)`);
  return value;
}

export const settings = {
  get url(): string {
    return process.env.TASKWIRE_URL ?? 'http://127.0.0.1:8080';
  },
  get wsUrl(): string {
    return websocketUrl(process.env.TASKWIRE_PUBLIC_URL || this.url);
  },
  get apiKey(): string {
    return required('TASKWIRE_API_KEY');
  },
  get jwtSecret(): string {
    return required('TASKWIRE_JWT_SECRET');
  },
  jobSteps: Number(process.env.JOB_STEPS ?? 20),
  jobStepMs: Number(process.env.JOB_STEP_MS ?? 250),
};
