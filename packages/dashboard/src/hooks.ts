/** Small shared hooks: a ticking clock, and the dashboard's context (session, API, client). */
import { createContext, useContext, useEffect, useState } from 'react';
import type { Api } from './api.js';
import type { AttemptTracker } from './live.js';
import type { Session } from './session.js';

/** The current time, re-read every `ms` (elapsed times and ETAs). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

export interface Dashboard {
  session: Session;
  api: Api;
  attempts: AttemptTracker;
  /** Called when a subscription could not recover (`recovered: false`): the banner shows. */
  reportResync: (channel: string) => void;
}

export const DashboardContext = createContext<Dashboard | null>(null);

export function useDashboard(): Dashboard {
  const value = useContext(DashboardContext);
  if (!value) throw new Error('useDashboard: no <DashboardContext> above');
  return value;
}
