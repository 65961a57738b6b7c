/** @taskwire/react: one connection per app, live tasks and channels over useSyncExternalStore. */
export { TaskwireProvider, useTaskwireClient, type TaskwireProviderProps } from './provider.js';
export {
  useTask,
  useTasks,
  useChannel,
  useConnectionState,
  useTaskStream,
  type TaskState,
  type TaskOptions,
  type TaskStreamState,
  type TasksState,
  type ChannelState,
} from './hooks.js';
