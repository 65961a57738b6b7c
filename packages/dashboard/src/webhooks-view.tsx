/**
 * The webhook outbox for admins (protocol 1.1 §8): Failed (the actionable one),
 * Pending and Delivered, each row expandable to every attempt, Retry on a failed one.
 * Read every few seconds while open (there is no live feed for it), and after a retry.
 */
import { useState, type ReactElement } from 'react';
import { ApiError, type WebhookMessage, type WebhookStatus } from './api.js';
import { formatTime } from './format.js';
import { useDashboard, useNow } from './hooks.js';
import { routeHref } from './route.js';
import { useWebhookList } from './use-webhooks.js';
import {
  WEBHOOK_STATUSES,
  WEBHOOK_STATUS_LABEL,
  attemptText,
  attemptsSummary,
  nextText,
  redactEndpoint,
} from './webhook-format.js';
import { Empty } from './widgets.js';

const EMPTY: Record<WebhookStatus, string> = {
  failed: 'No failed messages. A message fails once its retry schedule runs out (or its endpoint answers 410).',
  pending: 'Nothing pending: every message is delivered or has failed.',
  delivered: 'No delivered messages (they are kept 24 h).',
};

function AdminNote(): ReactElement {
  return (
    <p className="note" role="note">
      The webhook outbox needs an admin token. Sign in with one (<code>npx taskwire token --sub ops --admin</code>) to
      see and retry webhook messages.
    </p>
  );
}

export function WebhooksView(props: { status: WebhookStatus; changed: () => void }): ReactElement {
  const { session } = useDashboard();
  return (
    <section className="webhooks" aria-labelledby="webhooks-h">
      <h2 id="webhooks-h">Webhooks</h2>
      {session.admin ? (
        <>
          <nav className="tabs" aria-label="webhook messages by status">
            {WEBHOOK_STATUSES.map((s) => (
              <a
                key={s}
                href={routeHref({ view: 'webhooks', status: s })}
                aria-current={props.status === s ? 'page' : undefined}
                data-status={s}
              >
                {WEBHOOK_STATUS_LABEL[s]}
              </a>
            ))}
          </nav>
          <MessageList key={props.status} status={props.status} changed={props.changed} />
        </>
      ) : (
        <AdminNote />
      )}
    </section>
  );
}

type Outcome = { id: string; ok: boolean; text: string };

function MessageList(props: { status: WebhookStatus; changed: () => void }): ReactElement {
  const { api } = useDashboard();
  const list = useWebhookList(props.status);
  const now = useNow();
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const [busy, setBusy] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const toggle = (id: string): void =>
    setOpen((prev) => {
      const next = new Set(prev);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const retry = (id: string): void => {
    setBusy(id);
    api
      .retryWebhook(id)
      .then(
        (m) =>
          setOutcome({ id, ok: true, text: `${m.id} is pending again, due ${formatTime(m.nextAt ?? Date.now())}.` }),
        (err: unknown) =>
          setOutcome({
            id,
            ok: false,
            text: `Retry refused: ${err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)}`,
          }),
      )
      .finally(() => {
        setBusy(null);
        list.refresh();
        props.changed();
      });
  };

  const { error } = list;
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return <AdminNote />;
  return (
    <>
      {outcome && (
        <p className={outcome.ok ? 'outcome-note' : 'error'} role={outcome.ok ? 'status' : 'alert'}>
          {outcome.text} {outcome.ok && <a href={routeHref({ view: 'webhooks', status: 'pending' })}>View pending</a>}
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error instanceof ApiError && error.code === 'not_found'
            ? `This server keeps no webhook outbox (${error.message}).`
            : `Could not load the webhook messages: ${error.message}`}
        </p>
      )}
      {list.loading ? (
        <Empty>Loading…</Empty>
      ) : list.messages.length === 0 ? (
        !error && <Empty>{EMPTY[props.status]}</Empty>
      ) : (
        <ul className="hook-list" aria-label={`${props.status} webhook messages`}>
          <li className="hook-main hook-head" aria-hidden="true">
            <span>Event</span>
            <span>Task</span>
            <span>Endpoint</span>
            <span>Created</span>
            <span>Attempts</span>
            <span>{props.status === 'pending' ? 'Next attempt' : ''}</span>
            <span />
          </li>
          {list.messages.map((m) => (
            <MessageRow
              key={m.id}
              message={m}
              now={now}
              open={open.has(m.id)}
              toggle={() => toggle(m.id)}
              retry={m.status === 'failed' ? () => retry(m.id) : undefined}
              busy={busy === m.id}
            />
          ))}
        </ul>
      )}
      {list.more && (
        <button type="button" className="ghost load-more" onClick={list.loadMore}>
          Load more
        </button>
      )}
      <p className="muted poll-note">Read again every few seconds while this view is open.</p>
    </>
  );
}

function MessageRow(props: {
  message: WebhookMessage;
  now: number;
  open: boolean;
  toggle: () => void;
  retry: (() => void) | undefined;
  busy: boolean;
}): ReactElement {
  const { message: m } = props;
  const last = m.attempts.at(-1);
  const next = nextText(m, props.now);
  const endpoint = redactEndpoint(m.endpoint);
  const failedLast = last !== undefined && (last.status === null || last.status < 200 || last.status >= 300);
  return (
    <li className="hook-row" data-id={m.id} data-status={m.status} data-attempts={m.attempts.length}>
      <div className="hook-main">
        <button
          type="button"
          className="hook-toggle"
          aria-expanded={props.open}
          aria-label={`${props.open ? 'Hide' : 'Show'} the attempts of ${m.type} for ${m.taskId}`}
          onClick={props.toggle}
        >
          <span aria-hidden="true">{props.open ? '▾' : '▸'}</span> <code className="hook-type">{m.type}</code>
        </button>
        <a className="hook-task" href={routeHref({ view: 'tasks', taskId: m.taskId })}>
          {m.taskId}
        </a>
        <span className="hook-endpoint" title={endpoint}>
          {endpoint}
        </span>
        <time className="hook-created muted" dateTime={m.createdAt} title={`created ${m.createdAt}`}>
          {formatTime(m.createdAt)}
        </time>
        <span className={`hook-attempts${failedLast ? ' failed-detail' : ''}`}>{attemptsSummary(m)}</span>
        <span className="hook-next muted">
          {next && m.nextAt && (
            <time dateTime={m.nextAt} title={`next attempt ${formatTime(m.nextAt)}`}>
              next {next}
            </time>
          )}
        </span>
        {props.retry && (
          <button type="button" className="primary hook-retry" disabled={props.busy} onClick={props.retry}>
            {props.busy ? 'Retrying…' : 'Retry'}
          </button>
        )}
      </div>
      {props.open && (
        <div className="hook-detail">
          <p className="muted">
            <code>{m.id}</code> (the <code>webhook-id</code> of every attempt)
          </p>
          {m.attempts.length === 0 ? (
            <p className="muted">Not tried yet.</p>
          ) : (
            <ol className="attempts" aria-label="attempts">
              {m.attempts.map((a, i) => (
                <li key={`${a.at}-${i}`} data-http={a.status ?? ''}>
                  <time dateTime={a.at}>{formatTime(a.at)}</time> <span>{attemptText(a)}</span>
                </li>
              ))}
            </ol>
          )}
        </div>
      )}
    </li>
  );
}
