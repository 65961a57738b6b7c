/**
 * The hooks rendered with react-dom/server (no DOM needed): rendering has no side
 * effects (no socket, no handle, no subscription) and gives the loading snapshots.
 * What happens after mount is proven in real Chromium (test/browser.test.ts).
 */
import { createElement, type ReactElement } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it, vi } from 'vitest';
import { createClient, type WebSocketLike } from '@taskwire/client';
import { useChannel, useConnectionState, useTask, useTasks } from './hooks.js';
import { TaskwireProvider, useTaskwireClient } from './provider.js';

/** A WebSocket constructor that only counts. */
function countingWebSocket(): { WebSocket: new (url: string) => WebSocketLike; opened: () => number } {
  let opened = 0;
  class Counting {
    readonly readyState = 0;
    onopen = null;
    onmessage = null;
    onclose = null;
    onerror = null;
    constructor() {
      opened += 1;
    }
    send(): void {}
    close(): void {}
  }
  return { WebSocket: Counting, opened: () => opened };
}

function Probe(): ReactElement {
  const seen = {
    task: useTask('build-1'),
    none: useTask(null),
    tasks: useTasks(),
    channel: useChannel('room:lobby'),
    connection: useConnectionState(),
  };
  return createElement('pre', null, JSON.stringify(seen));
}

const rendered = (html: string): unknown => JSON.parse(html.replace(/^<pre>|<\/pre>$/g, '').replaceAll('&quot;', '"'));

describe('hooks during render', () => {
  it('give the loading snapshots and acquire nothing: no socket, no handle', () => {
    const ws = countingWebSocket();
    const client = createClient({ url: 'ws://127.0.0.1:9/api/v1/ws', token: 't', WebSocket: ws.WebSocket });
    const acquired = [vi.spyOn(client, 'task'), vi.spyOn(client, 'tasks'), vi.spyOn(client, 'channel')];
    const html = renderToString(createElement(TaskwireProvider, { client }, createElement(Probe)));
    expect(rendered(html)).toEqual({
      task: { task: undefined, state: 'subscribing', error: null },
      none: { task: undefined, state: 'unsubscribed', error: null },
      tasks: { tasks: [], state: 'subscribing', error: null },
      channel: { last: undefined, state: 'subscribing', error: null },
      connection: 'disconnected',
    });
    for (const spy of acquired) expect(spy).not.toHaveBeenCalled();
    expect(ws.opened()).toBe(0);
    expect(client.state).toBe('disconnected');
  });

  it('a provider given options creates its client without connecting during render', () => {
    const ws = countingWebSocket();
    const options = { url: 'ws://127.0.0.1:9/api/v1/ws', token: 't', WebSocket: ws.WebSocket };
    let seen: unknown;
    function Grab(): null {
      seen = useTaskwireClient();
      return null;
    }
    renderToString(createElement(TaskwireProvider, { options }, createElement(Grab)));
    expect(seen).toMatchObject({ state: 'disconnected' });
    expect(ws.opened()).toBe(0);
  });

  it('useTaskwireClient outside a provider throws a message that says so', () => {
    function Orphan(): null {
      useTaskwireClient();
      return null;
    }
    expect(() => renderToString(createElement(Orphan))).toThrow(/no <TaskwireProvider> above/);
  });
});
