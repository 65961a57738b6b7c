/**
 * The browser test page: under <StrictMode>, `n` components follow one task with
 * useTask, one counts the task channel's events with useChannel (checking offsets
 * are gapless and duplicate-free), one shows the task's `output` stream with
 * useTaskStream, one shows the connection state and two the user's feed. The task's components and the second feed can be unmounted and mounted again
 * (`window.__show`). The query string carries the WebSocket URL, the token, the task
 * id and `n`; index.html counts the page's WebSockets and marks the page load.
 */
import { StrictMode, useEffect, useRef, useState, type ReactElement } from 'react';
import { createRoot } from 'react-dom/client';
import { TaskwireProvider, useChannel, useConnectionState, useTask, useTaskStream, useTasks } from '@taskwire/react';

const params = new URLSearchParams(location.search);
const url = params.get('ws') ?? '';
const token = params.get('token') ?? '';
const taskId = params.get('task') ?? '';
const n = Number(params.get('n') ?? '20');

const w = window as unknown as { __mounts: number; __show: (shown: boolean) => void };
w.__mounts = 0;

function Progress({ i }: { i: number }): ReactElement {
  const { task, state } = useTask(taskId);
  useEffect(() => {
    w.__mounts += 1; // twice per component under StrictMode in development
  }, []);
  return (
    <div
      className="bar"
      data-i={i}
      data-state={state}
      data-progress={task?.progress ?? ''}
      data-status={task?.status ?? ''}
      data-version={task?.version ?? ''}
    >
      {task ? `${task.status} ${task.progress ?? 0}%` : state}
    </div>
  );
}

function EventCount(): ReactElement {
  const last = useRef<number | undefined>(undefined);
  const [seen, setSeen] = useState({ count: 0, gaps: 0, dups: 0, offset: 0 });
  useChannel(`task:${taskId}`, (event) => {
    const prev = last.current;
    last.current = event.offset;
    setSeen((s) => ({
      count: s.count + 1,
      gaps: s.gaps + (prev !== undefined && event.offset > prev + 1 ? 1 : 0),
      dups: s.dups + (prev !== undefined && event.offset <= prev ? 1 : 0),
      offset: event.offset,
    }));
  });
  return (
    <div id="events" data-count={seen.count} data-gaps={seen.gaps} data-dups={seen.dups} data-offset={seen.offset} />
  );
}

function Output(): ReactElement {
  const { text, chunks, done } = useTaskStream(taskId);
  return (
    <pre id="output" data-chunks={chunks} data-done={String(done)}>
      {text}
    </pre>
  );
}

function Connection(): ReactElement {
  return <div id="connection" data-state={useConnectionState()} />;
}

function Feed({ id }: { id: string }): ReactElement {
  const { tasks, state } = useTasks();
  return <div id={id} data-state={state} data-ids={tasks.map((t) => t.id).join(',')} />;
}

/** The task's components can be unmounted and mounted again by the test (`window.__show`). */
function App(): ReactElement {
  const [shown, setShown] = useState(true);
  useEffect(() => {
    w.__show = setShown;
  }, []);
  return (
    <TaskwireProvider options={{ url, token }}>
      <Connection />
      <Feed id="feed" />
      {shown && <Feed id="feed-late" />}
      {shown && <EventCount />}
      {shown && <Output />}
      {shown && Array.from({ length: n }, (_, i) => <Progress key={i} i={i} />)}
    </TaskwireProvider>
  );
}

const root = document.getElementById('root');
if (!root) throw new Error('no #root');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
