import { describe, expect, it } from 'vitest';
import { createClient } from '@taskwire/client';
import { openFeed } from './feed.js';

describe('openFeed', () => {
  it('shares one feed handle per client and releases it with its last user', () => {
    const client = createClient({ url: 'ws://127.0.0.1:9/api/v1/ws', token: 't' });
    const a = openFeed(client);
    const b = openFeed(client);
    expect(b.handle).toBe(a.handle);
    a.release();
    a.release(); // idempotent: one reference per open
    expect(a.handle.released).toBe(false);
    b.release();
    expect(a.handle.released).toBe(true);
    const c = openFeed(client);
    expect(c.handle).not.toBe(a.handle);
    c.release();
  });

  it('keeps feeds of different clients apart', () => {
    const url = 'ws://127.0.0.1:9/api/v1/ws';
    const a = openFeed(createClient({ url, token: 't' }));
    const b = openFeed(createClient({ url, token: 't' }));
    expect(b.handle).not.toBe(a.handle);
    a.release();
    b.release();
  });
});
