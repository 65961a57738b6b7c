'use client';
/**
 * One taskwire client for the whole app, shared by every tab of the signed-in user
 * (`shareAcrossTabs`: one WebSocket however many tabs are open). Created once,
 * lazily: createClient opens nothing, so StrictMode calling the initializer twice
 * and the server render are harmless; the provider connects it after hydration.
 * The token comes from this app's route handler (the cookie is the login), and
 * goes into the WebSocket's first frame, never into the URL.
 */
import { StrictMode, useState, type ReactNode } from 'react';
import { createClient } from '@taskwire/client/share';
import { TaskwireProvider, useConnectionState } from '@taskwire/react';

async function getToken(): Promise<string> {
  const res = await fetch('/api/taskwire-token', { method: 'POST' });
  if (!res.ok) throw new Error(`token: HTTP ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

export function Providers({ wsUrl, children }: { wsUrl: string; children: ReactNode }) {
  const [client] = useState(() => createClient({ url: wsUrl, getToken, shareAcrossTabs: true }));
  return (
    <StrictMode>
      <TaskwireProvider client={client}>
        <Connection />
        {children}
      </TaskwireProvider>
    </StrictMode>
  );
}

/** The connection's state, one line at the top: `connected` once this tab is live (through whichever tab holds the socket). */
function Connection() {
  const state = useConnectionState();
  return (
    <p id="connection" data-state={state} style={{ color: state === 'connected' ? 'green' : 'gray' }}>
      {state}
    </p>
  );
}
