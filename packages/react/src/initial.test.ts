/**
 * `useTask(id, { initial })`: the rule between the initial and the live snapshot,
 * and the server render, which shows the initial snapshot (the first paint) and
 * opens nothing. Hydration and the live updates after it run in real Chromium
 * (test/nextjs.test.ts).
 */
import { createElement, type ReactElement } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { createClient, type Task } from '@taskwire/client';
import { useTask } from './hooks.js';
import { withInitial } from './initial.js';
import { TaskwireProvider } from './provider.js';

const task = (version: number, id = 'job-1'): Task => ({
  id,
  owner: 'alice',
  title: null,
  status: 'running',
  progress: version * 10,
  stage: null,
  message: null,
  result: null,
  error: null,
  approval: null,
  meta: {},
  stallTimeoutMs: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  startedAt: null,
  finishedAt: null,
  parentId: null,
  batch: null,
  children: null,
  tags: [],
  streams: {},
  version,
});

describe('withInitial', () => {
  it('stands in while loading', () => {
    expect(withInitial('job-1', undefined, task(3))).toEqual(task(3));
    expect(withInitial('job-1', undefined, null)).toBeNull();
  });

  it('gives way to a live snapshot that is not older', () => {
    const same = task(3);
    expect(withInitial('job-1', same, task(3))).toBe(same); // equal versions: the live one
    const live = task(4);
    expect(withInitial('job-1', live, task(3))).toBe(live);
    const initial = task(5);
    expect(withInitial('job-1', task(4), initial)).toBe(initial); // a live snapshot older than the page's never wins
  });

  it('null never hides a task, either way', () => {
    const initial = task(2);
    expect(withInitial('job-1', null, initial)).toBe(initial);
    const live = task(2);
    expect(withInitial('job-1', live, null)).toBe(live);
  });

  it('ignores an initial snapshot of another task', () => {
    expect(withInitial('job-2', undefined, task(3, 'job-1'))).toBeUndefined();
  });
});

describe('useTask with initial under react-dom/server', () => {
  it('renders the initial snapshot: the first paint shows progress, and nothing is opened', () => {
    const client = createClient({ url: 'ws://127.0.0.1:9/api/v1/ws', token: 't' });
    function Bar(): ReactElement {
      const { task: t, state } = useTask('job-1', { initial: task(4) });
      return createElement('progress', { max: 100, value: t?.progress ?? 0, 'data-state': state });
    }
    const html = renderToString(createElement(TaskwireProvider, { client }, createElement(Bar)));
    expect(html).toBe('<progress max="100" value="40" data-state="subscribing"></progress>');
    expect(client.state).toBe('disconnected');
  });
});
