import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '@taskwire/protocol';
import { createApiKeyCheck } from '../src/auth/api-key.js';
import { createJwtVerifier } from '../src/auth/jwt.js';
import { authorizePublish, authorizeSubscribe } from '../src/auth/permissions.js';
import { createTickets, TICKET_TTL_MS } from '../src/auth/tickets.js';
import { AuthError, type Principal } from '../src/auth/types.js';
import { API_KEY_PRINCIPAL } from '../src/auth/authenticator.js';
import { createMemoryEngine } from '../src/engine/memory/memory-engine.js';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from './helpers/server.js';

const now = (): number => Math.floor(Date.now() / 1000);
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const pem = (k: KeyObject): string => k.export({ type: 'spki', format: 'pem' }).toString();

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AuthError);
    return (err as AuthError).reason;
  }
  throw new Error('expected an AuthError');
}

const hsConfig = { jwtAlgorithm: 'HS256' as const, jwtSecret: TEST_JWT_SECRET, jwtPublicKey: null, clockLeewaySec: 5 };
const hs = (claims: Record<string, unknown>, secret = TEST_JWT_SECRET): Promise<string> =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));

describe('JWT verification', () => {
  const verify = createJwtVerifier(hsConfig);

  it('accepts a valid HS256 token and maps its claims to a Principal', async () => {
    const exp = now() + 60;
    const p = await verify(
      await hs({ sub: 'alice', admin: true, channels: ['room:team-*'], publish: ['room:lobby'], exp }),
    );
    expect(p).toEqual({
      sub: 'alice',
      admin: true,
      apiKey: false,
      channels: ['room:team-*'],
      publish: ['room:lobby'],
      expiresAt: exp * 1000,
    });
    expect((await verify(await hs({ sub: 'bob' }))).expiresAt).toBeNull();
  });

  it('answers a token seen before from its cache only for the very same bytes', async () => {
    const token = await hs({ sub: 'alice', channels: ['room:*'] });
    const first = await verify(token);
    expect(await verify(token)).toBe(first);
    // The same signature on another payload (a different user) is verified, and refused.
    const [header, , signature] = token.split('.');
    const forged = `${header}.${b64({ sub: 'mallory', admin: true, channels: ['room:*'] })}.${signature}`;
    expect(await reason(verify(forged))).toBe('invalid');
    // A trailing byte more is another token too.
    expect(await reason(verify(`${token}A`))).toBe('invalid');
  });

  it('shares one frozen list between Principals granted the same patterns', async () => {
    const a = await verify(await hs({ sub: 'a', channels: ['room:*', 'task:x'] }));
    const b = await verify(await hs({ sub: 'b', channels: ['room:*', 'task:x'] }));
    expect(b.channels).toBe(a.channels);
    expect(Object.isFrozen(a.channels)).toBe(true);
    expect(a.publish).toBe(b.publish);
    expect(a.publish).toEqual([]);
    expect(Object.isFrozen(a.publish)).toBe(true);
  });

  it('refuses alg none', async () => {
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', admin: true })}.`;
    expect(await reason(verify(token))).toBe('invalid');
  });

  it('refuses a token signed with another algorithm than the pinned one', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rs = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
    expect(await reason(verify(rs))).toBe('invalid');
    // The classic confusion: an HS256 token "signed" with the RSA public key must not pass an RS256 server.
    const rsVerify = createJwtVerifier({
      jwtAlgorithm: 'RS256',
      jwtSecret: null,
      jwtPublicKey: pem(publicKey),
      clockLeewaySec: 5,
    });
    const confused = await hs({ sub: 'alice', admin: true }, pem(publicKey));
    expect(await reason(rsVerify(confused))).toBe('invalid');
    expect(
      await reason(
        verify(
          await new SignJWT({ sub: 'a' })
            .setProtectedHeader({ alg: 'HS512' })
            .sign(new TextEncoder().encode(TEST_JWT_SECRET)),
        ),
      ),
    ).toBe('invalid');
  });

  it('accepts RS256 and ES256 tokens with a configured public key', async () => {
    for (const [alg, pair] of [
      ['RS256', generateKeyPairSync('rsa', { modulusLength: 2048 })],
      ['ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ] as const) {
      const v = createJwtVerifier({
        jwtAlgorithm: alg,
        jwtSecret: null,
        jwtPublicKey: pem(pair.publicKey),
        clockLeewaySec: 5,
      });
      const token = await new SignJWT({ sub: 'carol' })
        .setProtectedHeader({ alg })
        .setExpirationTime('1h')
        .sign(pair.privateKey);
      expect((await v(token)).sub).toBe('carol');
      const other =
        alg === 'RS256'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const forged = await new SignJWT({ sub: 'carol' }).setProtectedHeader({ alg }).sign(other.privateKey);
      expect(await reason(v(forged))).toBe('invalid');
    }
  });

  it('refuses an expired token as expired, and honours the clock leeway', async () => {
    expect(await reason(verify(await hs({ sub: 'alice', exp: now() - 60 })))).toBe('expired');
    expect((await verify(await hs({ sub: 'alice', exp: now() - 2 }))).sub).toBe('alice');
    const strict = createJwtVerifier({ ...hsConfig, clockLeewaySec: 0 });
    expect(await reason(strict(await hs({ sub: 'alice', exp: now() - 2 })))).toBe('expired');
  });

  it('refuses bad claims, a wrong signature and garbage, with messages that never include the token', async () => {
    const bad = [
      await hs({ admin: true }),
      await hs({ sub: '' }),
      await hs({ sub: 42 }),
      await hs({ sub: 'a', admin: 'yes' }),
      await hs({ sub: 'a', channels: ['task:**'] }),
      await hs({ sub: 'a', channels: 'task:*' }),
      await hs({ sub: 'a', publish: ['nope:x'] }),
      await hs({ sub: 'a' }, 'another-secret-another-secret-another'),
      'not-a-jwt',
      'a.b.c',
    ];
    for (const token of bad) {
      const err = await verify(token).then(
        () => null,
        (e: unknown) => e as AuthError,
      );
      expect(err).toBeInstanceOf(AuthError);
      expect(err!.reason).toBe('invalid');
      expect(err!.message).not.toContain(token);
    }
  });
});

describe('API key', () => {
  it('matches only the exact key', () => {
    const check = createApiKeyCheck('s3cret-key');
    expect(check('s3cret-key')).toBe(true);
    expect(check('s3cret-kez')).toBe(false);
    expect(check('s3cret-key ')).toBe(false);
    expect(check('')).toBe(false);
    expect(createApiKeyCheck(null)('anything')).toBe(false);
  });

  it('compares UTF-8 bytes: prefixes, longer values, other characters of the same length never match', () => {
    const key = 'kéy-🔑-0123456789';
    const check = createApiKeyCheck(key);
    expect(check(key)).toBe(true);
    // Checked again after other values went through the same scratch buffer.
    for (const other of [key.slice(0, -1), `${key}0`, 'x'.repeat(4096), 'key-🔑-01234567890', 'kéy-🔒-0123456789']) {
      expect(check(other), other.slice(0, 20)).toBe(false);
      expect(check(key)).toBe(true);
    }
    // 'é' is two bytes: the same byte length with other characters, and the same character count with fewer bytes.
    expect(check('kxxy-🔑-0123456789')).toBe(false);
    expect(check('kxy-🔑-0123456789')).toBe(false);
    expect(check('x'.repeat(4097))).toBe(false);
    expect(createApiKeyCheck('')('')).toBe(false);
  });
});

describe('tickets', () => {
  const alice: Principal = {
    sub: 'alice',
    admin: false,
    apiKey: false,
    channels: ['room:a'],
    publish: [],
    expiresAt: null,
  };

  it('are single-use across nodes sharing the API key and engine', async () => {
    const engine = createMemoryEngine();
    const nodeA = createTickets('shared-key', engine);
    const nodeB = createTickets('shared-key', engine);
    const { ticket, expiresAt } = nodeA.issue(alice);
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(TICKET_TTL_MS);
    expect(await nodeB.redeem(ticket)).toEqual(alice);
    expect(await reason(nodeA.redeem(ticket))).toBe('ticket_used');
    expect(await reason(nodeB.redeem(ticket))).toBe('ticket_used');
    await engine.close();
  });

  it('expire after 30 s, and carry the token expiry', async () => {
    const engine = createMemoryEngine();
    const t = createTickets('k', engine);
    const issuedAt = Date.now();
    const { ticket } = t.issue(alice, issuedAt);
    expect(await reason(t.redeem(ticket, issuedAt + TICKET_TTL_MS + 1))).toBe('ticket_invalid');
    const short = t.issue({ ...alice, expiresAt: issuedAt + 1000 }, issuedAt);
    expect(await reason(t.redeem(short.ticket, issuedAt + 2000))).toBe('expired');
    await engine.close();
  });

  it('refuse a forged or tampered ticket', async () => {
    const engine = createMemoryEngine();
    const t = createTickets('k', engine);
    const other = createTickets('other-key', engine);
    const { ticket } = other.issue(alice);
    expect(await reason(t.redeem(ticket))).toBe('ticket_invalid');
    const mine = t.issue(alice).ticket;
    const [body, mac] = mine.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const admin = Buffer.from(JSON.stringify({ ...payload, admin: true })).toString('base64url');
    expect(await reason(t.redeem(`${admin}.${mac}`))).toBe('ticket_invalid');
    for (const junk of ['x', '.', 'abc.', '.abc', 'a'.repeat(9000)])
      expect(await reason(t.redeem(junk))).toMatch(/ticket_invalid|missing/);
    await engine.close();
  });
});

describe('channel permissions', () => {
  const task = (id: string, owner: string): Task => ({ id, owner }) as Task;
  const tasks = new Map([
    ['t1', task('t1', 'alice')],
    ['t2', task('t2', 'bob')],
  ]);
  const get = (id: string): Promise<Task | null> => Promise.resolve(tasks.get(id) ?? null);
  const user = (sub: string, extra: Partial<Principal> = {}): Principal => ({
    sub,
    admin: false,
    apiKey: false,
    channels: [],
    publish: [],
    expiresAt: null,
    ...extra,
  });
  const code = async (p: Principal, ch: string): Promise<string> => {
    const r = await authorizeSubscribe(p, ch, get);
    return r.ok ? 'ok' : r.error.code;
  };

  it('subscribe: own user channel and own tasks; not_found alike for missing and foreign tasks; rooms only when granted', async () => {
    const alice = user('alice');
    expect(await code(alice, 'user:alice')).toBe('ok');
    expect(await code(alice, 'user:bob')).toBe('forbidden');
    expect(await code(alice, 'task:t1')).toBe('ok');
    expect(await authorizeSubscribe(alice, 'task:t1', get)).toEqual({ ok: true, snapshot: tasks.get('t1') });
    expect(await code(alice, 'task:t2')).toBe('not_found');
    expect(await code(alice, 'task:nope')).toBe('not_found');
    expect(await code(alice, 'room:lobby')).toBe('forbidden');
    expect(await code(alice, 'bogus')).toBe('bad_request');
    expect(await code(alice, 'task:bad id')).toBe('bad_request');
  });

  it('subscribe: channels patterns grant explicitly (snapshot null for a task not created yet); admin and API key get anything', async () => {
    const granted = user('alice', { channels: ['task:*', 'room:team-*', 'user:bob'] });
    expect(await authorizeSubscribe(granted, 'task:future', get)).toEqual({ ok: true, snapshot: null });
    expect(await authorizeSubscribe(granted, 'task:t2', get)).toEqual({ ok: true, snapshot: tasks.get('t2') });
    expect(await code(granted, 'room:team-x')).toBe('ok');
    expect(await code(granted, 'room:other')).toBe('forbidden');
    expect(await code(granted, 'user:bob')).toBe('ok');
    for (const p of [user('root', { admin: true }), API_KEY_PRINCIPAL]) {
      expect(await authorizeSubscribe(p, 'task:t2', get)).toEqual({ ok: true, snapshot: tasks.get('t2') });
      expect(await authorizeSubscribe(p, 'task:none', get)).toEqual({ ok: true, snapshot: null });
      expect(await code(p, 'user:anyone')).toBe('ok');
      expect(await code(p, 'room:any')).toBe('ok');
    }
  });

  it('publish: never on task channels; API key and admin on user and room channels; others per publish patterns', () => {
    const c = (p: Principal, ch: string): string => authorizePublish(p, ch)?.code ?? 'ok';
    for (const p of [user('root', { admin: true }), API_KEY_PRINCIPAL, user('a', { publish: ['task:*'] })]) {
      expect(c(p, 'task:t1')).toBe('forbidden');
      expect(authorizePublish(p, 'task:t1')?.message).toMatch(/task API/);
    }
    expect(c(API_KEY_PRINCIPAL, 'room:x')).toBe('ok');
    expect(c(API_KEY_PRINCIPAL, 'user:bob')).toBe('ok');
    expect(c(user('root', { admin: true }), 'room:x')).toBe('ok');
    const alice = user('alice', { publish: ['room:chat-*'] });
    expect(c(alice, 'room:chat-1')).toBe('ok');
    expect(c(alice, 'room:other')).toBe('forbidden');
    expect(c(alice, 'user:alice')).toBe('forbidden');
    expect(c(alice, 'nope')).toBe('bad_request');
  });
});

describe('HTTP authentication', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 401 unauthorized without credentials, with a bad scheme, a bad token or an expired one', async () => {
    const noAuth = await t.api('GET', '/tasks', undefined, { token: null });
    expect(noAuth.status).toBe(401);
    expect(noAuth.body.error.code).toBe('unauthorized');
    const basic = await t.api('GET', '/tasks', undefined, { token: null, headers: { authorization: 'Basic abc' } });
    expect(basic.status).toBe(401);
    expect((await t.api('GET', '/tasks', undefined, { token: 'garbage' })).status).toBe(401);
    const expired = await t.api('GET', '/tasks', undefined, { token: await t.token({ sub: 'a', exp: now() - 60 }) });
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toBe('token expired');
    const none = `${b64({ alg: 'none' })}.${b64({ sub: 'a', admin: true })}.`;
    expect((await t.api('GET', '/stats', undefined, { token: none })).status).toBe(401);
  });

  it('accepts the API key and a valid token; ignores ?token= on routes that do not take it', async () => {
    expect((await t.api('GET', '/tasks')).status).toBe(200);
    const token = await t.token({ sub: 'alice' });
    expect((await t.api('GET', '/tasks', undefined, { token })).status).toBe(200);
    expect((await t.api('GET', `/tasks?token=${token}`, undefined, { token: null })).status).toBe(400);
    const res = await fetch(`${t.url}/api/v1/stats?token=${encodeURIComponent(t.apiKey)}`);
    expect(res.status).toBe(401);
  });

  it('POST /tickets issues a single-use ticket for a client token only', async () => {
    const token = await t.token({ sub: 'alice', channels: ['room:a'] });
    const res = await t.api<{ ticket: string; expiresAt: string }>('POST', '/tickets', undefined, { token });
    expect(res.status).toBe(200);
    expect(typeof res.body.ticket).toBe('string');
    expect(Date.parse(res.body.expiresAt)).toBeGreaterThan(Date.now());
    const p = await t.server.ctx.auth.redeemTicket(res.body.ticket);
    expect(p).toMatchObject({ sub: 'alice', channels: ['room:a'], apiKey: false });
    expect(await reason(t.server.ctx.auth.redeemTicket(res.body.ticket))).toBe('ticket_used');
    expect((await t.api('POST', '/tickets')).status).toBe(403);
    expect((await t.api('POST', '/tickets', undefined, { token: null })).status).toBe(401);
  });
});
