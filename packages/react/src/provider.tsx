/**
 * <TaskwireProvider>: puts one TaskwireClient in context. Given `options`, it creates
 * the client once (a lazy useState: createClient has no side effects, so an extra
 * call by StrictMode or a discarded concurrent render opens nothing). It connects in
 * an effect and disconnects a client it created only after its final unmount: the
 * disconnect is deferred a tick and cancelled by a re-mount, so StrictMode's
 * mount → unmount → mount keeps the one socket it has.
 */
import { createContext, useContext, useEffect, useState, type ReactElement, type ReactNode } from 'react';
import { createClient, type ClientOptions, type TaskwireClient } from '@taskwire/client';

interface WithClient {
  /** A client the app created (preferred): the provider connects it but never disconnects it. */
  client: TaskwireClient;
  options?: undefined;
  children?: ReactNode;
}
interface WithOptions {
  /** Options for createClient(), read on the first render only. */
  options: ClientOptions;
  client?: undefined;
  children?: ReactNode;
}
export type TaskwireProviderProps = WithClient | WithOptions;

const Context = createContext<TaskwireClient | null>(null);
const pendingDisconnect = new WeakMap<TaskwireClient, ReturnType<typeof setTimeout>>();

export function TaskwireProvider(props: TaskwireProviderProps): ReactElement {
  const [owned] = useState(() => (props.client ? undefined : createClient(props.options)));
  const client = props.client ?? owned;
  if (!client) throw new Error('TaskwireProvider: pass `client` or `options`');
  useEffect(() => {
    clearTimeout(pendingDisconnect.get(client));
    client.connect();
    if (client !== owned) return undefined;
    return () => {
      pendingDisconnect.set(
        client,
        setTimeout(() => client.disconnect(), 0),
      );
    };
  }, [client, owned]);
  return <Context.Provider value={client}>{props.children}</Context.Provider>;
}

/** The client from the nearest <TaskwireProvider>. */
export function useTaskwireClient(): TaskwireClient {
  const client = useContext(Context);
  if (!client) throw new Error('useTaskwireClient: no <TaskwireProvider> above this component');
  return client;
}
