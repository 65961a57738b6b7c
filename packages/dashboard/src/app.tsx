/** The app: sign-in, then the signed-in shell (header, connection, resync banner, views). */
import { useCallback, useEffect, useMemo, useRef, useState, type ReactElement } from 'react';
import { TaskwireProvider } from '@taskwire/react';
import { createApi, endpoints } from './api.js';
import { ChannelInspector } from './channel-inspector.js';
import { ConnectionIndicator } from './connection.js';
import { DashboardContext, type Dashboard } from './hooks.js';
import { createLive } from './live.js';
import { ResyncBanner, type ResyncNote } from './resync-banner.js';
import { useRoute, type Route } from './route.js';
import { fetchDevToken, loadSession, saveSession, type Session } from './session.js';
import { SignIn, type Notice } from './sign-in.js';
import { StatsView } from './stats-view.js';
import { TasksView } from './tasks-view.js';
import { useFailedCount } from './use-webhooks.js';
import { countBadge } from './webhook-format.js';
import { WebhooksView } from './webhooks-view.js';

export function App(): ReactElement {
  const urls = useMemo(() => endpoints(window.location), []);
  const [session, setSession] = useState<Session | null>(loadSession);
  const [notice, setNotice] = useState<Notice | undefined>(undefined);
  const signIn = useCallback((s: Session) => {
    saveSession(s);
    setNotice(undefined);
    setSession(s);
  }, []);
  const signOut = useCallback((refused?: string) => {
    saveSession(null);
    setNotice(refused ? { text: refused, error: true } : { text: 'Signed out.', error: false });
    setSession(null);
  }, []);
  if (!session) return <SignIn apiBase={urls.api} onSession={signIn} {...(notice ? { notice } : {})} />;
  return <SignedIn key={session.token} session={session} urls={urls} signOut={signOut} />;
}

function SignedIn(props: {
  session: Session;
  urls: { api: string; ws: string };
  signOut: (refused?: string) => void;
}): ReactElement {
  const { session, urls } = props;
  const token = useRef(session.token);
  const [live] = useState(() =>
    createLive(urls.ws, session, async () => {
      if (!session.dev) return token.current;
      const fresh = await fetchDevToken(urls.api);
      if (!fresh) throw new Error('the dev token is no longer available');
      saveSession(fresh);
      token.current = fresh.token;
      return fresh.token;
    }),
  );
  const [note, setNote] = useState<ResyncNote | null>(null);
  const reportResync = useCallback((channel: string) => {
    setNote((prev) => ({ channels: Array.from(new Set([...(prev?.channels ?? []), channel])), at: Date.now() }));
  }, []);
  const dashboard = useMemo<Dashboard>(
    () => ({ session, api: createApi(urls.api, () => token.current), attempts: live.attempts, reportResync }),
    [session, urls.api, live, reportResync],
  );

  useEffect(() => {
    const { client } = live;
    const feed = client.tasks();
    const offFeed = feed.subscribe((n) => {
      if (n.type === 'resync') reportResync(`user:${session.user}`);
    });
    // A dev server makes new secrets on every start: fetch a new dev token (at most every 30 s).
    let lastRenew = 0;
    const offState = client.on('state', (e) => {
      if (e.newState !== 'unauthorized' || !session.dev || Date.now() - lastRenew < 30_000) return;
      lastRenew = Date.now();
      client.connect();
    });
    return () => {
      offFeed();
      offState();
      feed.release();
      client.disconnect();
    };
  }, [live, session, reportResync]);

  return (
    <DashboardContext.Provider value={dashboard}>
      <TaskwireProvider client={live.client}>
        <Shell session={session} signOut={props.signOut} note={note} dismiss={() => setNote(null)} />
      </TaskwireProvider>
    </DashboardContext.Provider>
  );
}

function Shell(props: {
  session: Session;
  signOut: (refused?: string) => void;
  note: ResyncNote | null;
  dismiss: () => void;
}): ReactElement {
  const { session } = props;
  const [route, go] = useRoute();
  // A user who opens #/webhooks sees why it is not for them; the other admin views fall back to the tasks.
  const adminOnly = route.view === 'stats' || route.view === 'channels';
  const view: Route = !session.admin && adminOnly ? { view: 'tasks', taskId: null } : route;
  const failed = useFailedCount(session.admin);
  const failedBadge = failed.count === null ? null : countBadge(failed.count, failed.more);
  const tabs: [Route['view'], string][] = session.admin
    ? [
        ['tasks', 'Tasks'],
        ['stats', 'Stats'],
        ['channels', 'Channels'],
        ['webhooks', 'Webhooks'],
      ]
    : [['tasks', 'Tasks']];
  return (
    <div className="shell">
      <header className="top">
        <a className="brand" href="#/tasks">
          <span className="logo" aria-hidden="true" />
          taskwire
        </a>
        <nav aria-label="views">
          {tabs.map(([v, label]) => (
            <a key={v} href={`#/${v}`} aria-current={view.view === v ? 'page' : undefined}>
              {label}
              {v === 'webhooks' && failedBadge && (
                <span className="badge failed-count" title="failed webhook messages">
                  {failedBadge}
                  <span className="visually-hidden"> failed</span>
                </span>
              )}
            </a>
          ))}
        </nav>
        <ConnectionIndicator signOut={() => props.signOut('The server refused the token: sign in again.')} />
        <div className="user">
          <span className="who" title={session.admin ? 'admin token' : 'user token'}>
            {session.user}
            {session.admin && <span className="badge">admin</span>}
          </span>
          <button type="button" className="ghost" onClick={() => props.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <ResyncBanner note={props.note} dismiss={props.dismiss} />
      <main>
        {view.view === 'stats' ? (
          <StatsView />
        ) : view.view === 'channels' ? (
          <ChannelInspector />
        ) : view.view === 'webhooks' ? (
          <WebhooksView status={view.status} changed={failed.refresh} />
        ) : (
          <TasksView taskId={view.taskId} open={(id) => go({ view: 'tasks', taskId: id })} />
        )}
      </main>
    </div>
  );
}
