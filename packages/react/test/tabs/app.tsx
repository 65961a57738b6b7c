/**
 * The tab-sharing test page: a client from `@taskwire/client/share` with
 * `shareAcrossTabs`, under <StrictMode>, following one task with useTask and its
 * channel with useChannel (every event offset kept in `window.__offsets`, in the
 * order the hook saw them). The query string carries the WebSocket URL, the
 * token (returned by getToken) and the task id; index.html counts the sockets.
 */
import { StrictMode, type ReactElement } from 'react';
import { createRoot } from 'react-dom/client';
import { createClient } from '@taskwire/client/share';
import { TaskwireProvider, useChannel, useConnectionState, useTask } from '@taskwire/react';

const params = new URLSearchParams(location.search);
const taskId = params.get('task') ?? '';
const token = params.get('token') ?? '';
const w = window as unknown as { __offsets: number[] };
w.__offsets = [];

const client = createClient({
  url: params.get('ws') ?? '',
  getToken: () => token,
  shareAcrossTabs: params.get('share') !== '0',
});

function Progress(): ReactElement {
  const { task, state } = useTask(taskId);
  return <div id="bar" data-state={state} data-progress={task?.progress ?? ''} data-owner={task?.owner ?? ''} />;
}

function Events(): ReactElement {
  useChannel(`task:${taskId}`, (event) => {
    w.__offsets.push(event.offset);
  });
  return <div id="events" />;
}

function Connection(): ReactElement {
  return <div id="connection" data-state={useConnectionState()} />;
}

const root = document.getElementById('root');
if (!root) throw new Error('no #root');
createRoot(root).render(
  <StrictMode>
    <TaskwireProvider client={client}>
      <Connection />
      <Progress />
      <Events />
    </TaskwireProvider>
  </StrictMode>,
);
