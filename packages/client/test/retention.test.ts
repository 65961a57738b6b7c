/** Retention from the SDKs: the backend client's deleteTask, and the user feed dropping a deleted task. */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../server/test/helpers/server.js';
import { createBackend, TaskwireApiError } from '../src/backend/index.js';
import { createClient, type TaskwireClient, type TasksNotice } from '../src/index.js';
import { waitFor } from './helpers/wait.js';

let server: TestServer | undefined;
const clients: TaskwireClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await server?.close();
  server = undefined;
});

describe('retention from the SDKs', () => {
  it('deleteTask deletes a finished tree, refuses a running task with conflict, and the feed drops what is deleted', async () => {
    const s = (server = await startTestServer());
    const tw = createBackend({ url: s.url, apiKey: s.apiKey });
    const client = createClient({ url: s.wsUrl, token: await s.token({ sub: 'alice' }) });
    clients.push(client);
    client.connect();
    const feed = client.tasks();
    const notices: TasksNotice[] = [];
    feed.subscribe((n) => notices.push(n));

    const done = await tw.createTask({ owner: 'alice', title: 'done', batch: {} });
    await tw.createTask({ owner: 'alice', title: 'kid', parentId: done.id });
    const running = await tw.createTask({ owner: 'alice', title: 'running' });
    await tw.progress(running.id, 10);
    await tw.cancel(done.id);
    await waitFor(
      'the feed to hold both',
      () => feed.get(done.id)?.status === 'cancelled' && feed.get(running.id) !== undefined,
    );

    const refused = await tw.deleteTask(running.id).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(TaskwireApiError);
    expect(refused).toMatchObject({ code: 'conflict', status: 409 });
    expect(await tw.get(running.id)).toMatchObject({ status: 'running', progress: 10 });

    expect(await tw.deleteTask(done.id)).toEqual({ taskId: done.id, deleted: 2 });
    await waitFor('the feed to drop the task', () => feed.get(done.id) === undefined);
    expect(feed.getSnapshot().map((t) => t.id)).not.toContain(done.id);
    expect(feed.get(running.id)).toBeDefined();
    expect(notices).toContainEqual({ type: 'deleted', taskId: done.id });
    await expect(tw.get(done.id)).rejects.toMatchObject({ code: 'not_found', status: 404 });
  });
});
