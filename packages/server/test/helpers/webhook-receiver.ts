/**
 * A webhook receiver for tests: a real HTTP server on 127.0.0.1 that records every
 * request and checks its signature with an implementation of the Standard Webhooks
 * scheme written here from the spec (not taskwire's code), answering what the test
 * says (a status, or 'hang': no answer).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { WebhookPayload } from '@taskwire/protocol';

export const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;

/** Standard Webhooks, from the spec: HMAC-SHA256(base64-decoded secret, "id.timestamp.body"), base64, "v1," prefix. */
export function independentlyVerified(headers: IncomingMessage['headers'], body: string, secret = SECRET): boolean {
  const id = String(headers['webhook-id']);
  const ts = String(headers['webhook-timestamp']);
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
  if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  return String(headers['webhook-signature'])
    .split(' ')
    .some((s) => {
      const [v, sig] = s.split(',');
      const got = Buffer.from(sig ?? '', 'base64');
      return v === 'v1' && got.length === expected.length && timingSafeEqual(got, expected);
    });
}

export interface Received {
  id: string;
  type: string;
  body: string;
  payload: WebhookPayload;
  verified: boolean;
}

/** A receiver: records each request, answers what `answer` says (a status, or 'hang' for no answer). */
export async function receiver(): Promise<{
  url: string;
  got: Received[];
  answer: (r: Received) => number | 'hang';
  setAnswer(fn: (r: Received) => number | 'hang'): void;
  /** Requests open at once, at most, since the start. */
  maxOpen(): number;
  close(): Promise<void>;
}> {
  const got: Received[] = [];
  let answer: (r: Received) => number | 'hang' = () => 200;
  let open = 0;
  let maxOpen = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    res.once('close', () => (open -= 1));
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const r: Received = {
        id: String(req.headers['webhook-id']),
        type: (JSON.parse(body) as WebhookPayload).type,
        body,
        payload: JSON.parse(body) as WebhookPayload,
        verified: independentlyVerified(req.headers, body) && req.headers['content-type'] === 'application/json',
      };
      got.push(r);
      const a = answer(r);
      if (a === 'hang') return;
      res.writeHead(a).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    got,
    answer: (r) => answer(r),
    setAnswer(fn) {
      answer = fn;
    },
    maxOpen: () => maxOpen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
