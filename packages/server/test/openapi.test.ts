/**
 * The OpenAPI document at `/docs/json` and the UI at `/docs`: a structurally valid
 * OpenAPI 3 document (every `$ref` resolves), and EVERY route registered by the
 * plugin (collected with an onRoute hook) is in it with a summary, tags, its
 * parameters and body, its success response and its error responses (the
 * ErrorResponse schema). The UI and its assets are served from the package (offline).
 * The dashboard's static routes at `/` are hidden (`schema.hide`), so they are not checked.
 */
import Fastify, { type RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskwirePlugin } from '../src/app/plugin.js';
import { TEST_API_KEY, TEST_JWT_SECRET } from './helpers/server.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking an arbitrary JSON document
type Doc = Record<string, any>;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** `/api/v1/tasks/:id` → `/api/v1/tasks/{id}`. */
const openApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function resolveRef(doc: Doc, ref: string): unknown {
  expect(ref.startsWith('#/'), `local $ref ${ref}`).toBe(true);
  let node: unknown = doc;
  for (const part of ref.slice(2).split('/')) node = (node as Doc | undefined)?.[part];
  return node;
}

function collectRefs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) collectRefs(n, out);
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else collectRefs(v, out);
    }
  }
  return out;
}

describe('OpenAPI at /docs', () => {
  const app = Fastify({ routerOptions: { maxParamLength: 256 } });
  const routes: RouteOptions[] = [];
  let doc: Doc;

  beforeAll(async () => {
    app.addHook('onRoute', (r) => {
      if (r.method !== 'HEAD') routes.push(r);
    });
    await app.register(taskwirePlugin, {
      engine: 'memory',
      jwtSecret: TEST_JWT_SECRET,
      apiKey: TEST_API_KEY,
      logLevel: 'silent',
      dev: true, // registers GET /api/v1/dev/token, which must be documented too
    });
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    doc = res.json<Doc>();
  });
  afterAll(() => app.close());

  it('serves the interactive UI and its assets from the package (no network needed)', async () => {
    const html = await app.inject({ method: 'GET', url: '/docs' });
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toMatch(/^text\/html/);
    const assets = [...html.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      expect(asset, 'no asset from another host').not.toMatch(/^(https?:)?\/\//);
      const url = asset.startsWith('/') ? asset : `/docs/${asset.replace(/^\.\//, '')}`;
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
    const init = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    expect(init.body).toContain('./json');
    expect(init.body).toMatch(/validatorUrl: null/);
  });

  it('is a valid OpenAPI 3 document: version, info, paths, components, and every $ref resolves', () => {
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info).toMatchObject({ title: 'Taskwire', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(Object.keys(doc.components.schemas as Doc)).toEqual(expect.arrayContaining(['Task', 'ErrorResponse']));
    expect(Object.keys(doc.components.securitySchemes as Doc).sort()).toEqual(
      ['apiKey', 'bearerJwt', 'metricsToken', 'queryTicket', 'queryToken'].sort(),
    );
    for (const ref of collectRefs(doc)) expect(resolveRef(doc, ref), ref).toBeDefined();
    for (const [path, item] of Object.entries(doc.paths as Doc)) {
      expect(path.startsWith('/'), path).toBe(true);
      for (const [method, op] of Object.entries(item as Doc)) {
        expect(METHODS).toContain(method);
        expect(Object.keys(((op as Doc).responses ?? {}) as Doc).length, `${method} ${path} responses`).toBeGreaterThan(
          0,
        );
        for (const p of ((op as Doc).parameters ?? []) as Doc[]) {
          expect(['path', 'query', 'header', 'cookie']).toContain(p.in);
          if (p.in === 'path') {
            expect(p.required, `${path} ${String(p.name)}`).toBe(true);
            expect(path).toContain(`{${String(p.name)}}`);
          }
        }
      }
    }
  });

  it('documents EVERY registered route with a summary, tags, inputs, a success response and its error responses', () => {
    const documented = routes.filter((r) => (r.schema as Doc | undefined)?.hide !== true);
    // The plugin's own routes, at least (the UI's routes are hidden by @fastify/swagger-ui).
    expect(documented.map((r) => `${String(r.method)} ${r.url}`).sort()).toEqual(
      expect.arrayContaining([
        'GET /api/v1/ws',
        'GET /api/v1/channels/:channel/events',
        'GET /api/v1/channels/:channel/history',
        'GET /api/v1/dev/token',
        'GET /metrics',
        'GET /healthz',
        'GET /readyz',
      ]),
    );
    for (const route of documented) {
      for (const method of [route.method].flat()) {
        const where = `${String(method)} ${route.url}`;
        const op = (doc.paths as Doc)[openApiPath(route.url)]?.[String(method).toLowerCase()] as Doc | undefined;
        expect(op, `${where} is in the document`).toBeDefined();
        expect(op!.summary, `${where} summary`).toEqual(expect.any(String));
        expect(op!.tags, `${where} tags`).toEqual([expect.any(String)]);
        expect(op!.security, `${where} security`).toBeDefined();
        const schema = route.schema as Doc;
        if (schema.body) expect(op!.requestBody, `${where} body`).toBeDefined();
        const params = ((op!.parameters ?? []) as Doc[]).map((p) => `${String(p.in)}:${String(p.name)}`);
        for (const name of Object.keys(((schema.params as Doc | undefined)?.properties ?? {}) as Doc)) {
          expect(params, `${where} path parameter ${name}`).toContain(`path:${name}`);
        }
        // A query credential is described by its security scheme (queryToken, queryTicket), not as a parameter.
        const schemes = doc.components.securitySchemes as Doc;
        const viaSecurity = ((op!.security ?? []) as Doc[])
          .flatMap((req) => Object.keys(req))
          .filter((k) => schemes[k]?.in === 'query')
          .map((k) => String(schemes[k].name));
        for (const name of Object.keys(((schema.querystring as Doc | undefined)?.properties ?? {}) as Doc)) {
          if (viaSecurity.includes(name)) continue;
          expect(params, `${where} query parameter ${name}`).toContain(`query:${name}`);
        }
        const statuses = Object.keys(op!.responses as Doc);
        expect(
          statuses.some((s) => /^[12]\d\d$/.test(s)),
          `${where} success response`,
        ).toBe(true);
        const errors = statuses.filter((s) => /^[45]\d\d$/.test(s));
        expect(errors, `${where} error responses`).toEqual(expect.arrayContaining(['500', '503']));
        for (const status of errors) {
          const body = (op!.responses as Doc)[status].content?.['application/json']?.schema as Doc | undefined;
          expect(body?.$ref, `${where} ${status} body`).toBe('#/components/schemas/ErrorResponse');
        }
      }
    }
  });

  it('uses the Task schema for task bodies, and points the realtime routes at docs/protocol.md', () => {
    const create = doc.paths['/api/v1/tasks'].post as Doc;
    expect(create.responses['201'].content['application/json'].schema.$ref).toBe('#/components/schemas/Task');
    expect(create.responses['409']).toBeDefined();
    expect(create.security).toEqual([{ apiKey: [] }]);
    const ws = doc.paths['/api/v1/ws'].get as Doc;
    expect(ws.description).toContain('docs/protocol.md');
    expect(ws.responses['101']).toBeDefined();
    const sse = doc.paths['/api/v1/channels/{channel}/events'].get as Doc;
    expect(sse.description).toContain('docs/protocol.md');
    expect(Object.keys(sse.responses['200'].content as Doc)).toEqual(['text/event-stream']);
    expect(sse.security).toEqual(expect.arrayContaining([{ queryTicket: [] }, { queryToken: [] }]));
    expect((sse.parameters as Doc[]).map((p) => `${String(p.in)}:${String(p.name)}`)).toEqual(
      expect.arrayContaining(['path:channel', 'header:last-event-id', 'query:lastEventId']),
    );
    expect(doc.components.schemas.Task.properties.version).toMatchObject({ type: 'integer' });
  });
});
