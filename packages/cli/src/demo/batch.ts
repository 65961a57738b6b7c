/**
 * The demo's batch (protocol 1.1 batches): "Generate 12 concept pages" for alice, a
 * parent created with `{expectedChildren: 12, completeWhen: 'children'}`. Its worker
 * creates one child every 0.8-2 s; each child waits queued 0.5-3 s, then goes through
 * outline, draft and review at its own pace (4-14 s). The worker never ends the
 * parent: the server ends it from its children, `failed` (`children_failed`) when
 * page 9 fails its fact check (`failPage`), else `succeeded`. About 35 s at speed 1.
 */
import type { Task } from '@taskwire/protocol';
import type { TaskwireBackend } from '@taskwire/client/backend';
import { between, type Clock } from './clock.js';
import type { WorkerEnd } from './worker.js';

export const BATCH_TITLE = 'Generate 12 concept pages';
export const BATCH_OWNER = 'alice';
export const BATCH_SIZE = 12;
/** The page that fails its fact check in a failing run. */
export const FAILING_PAGE = 9;

const TOPICS = [
  'Onboarding',
  'Billing',
  'Search',
  'Permissions',
  'Notifications',
  'Offline mode',
  'Audit log',
  'Integrations',
  'Data export',
  'Theming',
  'Rate limits',
  'Webhooks',
];

const STAGES = [
  { name: 'outline', message: 'sections', count: 6, doing: 'planning' },
  { name: 'draft', message: 'paragraphs', count: 14, doing: 'writing' },
  { name: 'review', message: 'claims checked', count: 9, doing: 'fact-checking' },
] as const;

export interface BatchContext {
  tw: TaskwireBackend;
  clock: Clock;
  id: string;
  /** Page FAILING_PAGE fails its fact check, so the batch ends `failed`. */
  failPage: boolean;
}

export async function runBatch(ctx: BatchContext): Promise<WorkerEnd> {
  const { tw, clock, id } = ctx;
  await tw.createTask({
    id,
    owner: BATCH_OWNER,
    title: BATCH_TITLE,
    meta: { demo: true, scenario: 'pages' },
    batch: { expectedChildren: BATCH_SIZE, completeWhen: 'children' },
  });
  const pages: Promise<void>[] = [];
  let stopped = false;
  let broken: { reason: unknown } | null = null;
  try {
    for (let n = 1; n <= BATCH_SIZE && !stopped; n++) {
      stopped = !(await clock.sleep(between(800, 2_000)));
      if (stopped) break;
      // The parent's own worker reports a stage (its progress follows the children).
      await tw.update(id, { stage: 'generate', message: `${n} of ${BATCH_SIZE} pages started` });
      const child = await tw.createTask({
        id: `${id}-page-${n}`,
        owner: BATCH_OWNER,
        title: `Concept page ${n}: ${TOPICS[n - 1] ?? `topic ${n}`}`,
        parentId: id,
        meta: { demo: true, scenario: 'page', page: n },
      });
      pages.push(runPage(ctx, child, n));
    }
  } catch (reason) {
    broken = { reason };
  }
  // Every page started is seen through (or stopped), whatever happened to the loop.
  const settled = await Promise.allSettled(pages);
  if (stopped || clock.signal.aborted) return 'stopped';
  if (broken) throw broken.reason;
  for (const page of settled) if (page.status === 'rejected') throw page.reason;
  return (await tw.get(id)).status;
}

/** One page: queued for a moment, then outline, draft and review at its own pace. */
async function runPage(ctx: BatchContext, child: Task, n: number): Promise<void> {
  const { tw, clock } = ctx;
  if (!(await clock.sleep(between(500, 3_000)))) return;
  const total = between(4_000, 14_000);
  const steps = between(6, 10);
  const fails = ctx.failPage && n === FAILING_PAGE;
  let current: string | null = null;
  for (let i = 1; i <= steps; i++) {
    const done = i / steps;
    const index = Math.min(STAGES.length - 1, Math.floor(((i - 1) / steps) * STAGES.length));
    const stage = STAGES[index] ?? STAGES[0];
    const within = Math.min(1, Math.max(0, (done - index / STAGES.length) * STAGES.length));
    if (stage.name !== current) await tw.log(child.id, `[${stage.name}] ${stage.doing} page ${n}`);
    current = stage.name;
    if (fails && stage.name === 'review') {
      await tw.log(child.id, '[review] fact check: 2 claims have no source');
      await tw.fail(child.id, { message: 'fact check: 2 claims on this page have no source', code: 'fact_check' });
      return;
    }
    await tw.progress(child.id, Math.min(99, Math.round(done * 1000) / 10), {
      stage: stage.name,
      message: `${Math.max(1, Math.round(within * stage.count))} of ${stage.count} ${stage.message}`,
    });
    if (!(await clock.sleep((total / steps) * (0.7 + Math.random() * 0.6)))) return;
  }
  await tw.complete(child.id, { page: n, words: between(600, 1_400) });
}
