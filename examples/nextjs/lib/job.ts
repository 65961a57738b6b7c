/**
 * The fake job: a loop that reports its progress to taskwire over HTTP. In a real
 * app this is a queue worker (in any language); here it runs in the Next.js
 * server process, which `next start` keeps alive (not on a serverless platform).
 */
import 'server-only';
import { settings } from './settings';
import { taskwire } from './taskwire';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runJob(id: string): Promise<void> {
  const tw = taskwire();
  const steps = settings.jobSteps;
  try {
    for (let i = 1; i <= steps; i++) {
      await sleep(settings.jobStepMs); // the real work goes here
      await tw.progress(id, Math.round((i / steps) * 100), { stage: 'crunching', message: `step ${i} of ${steps}` });
    }
    await tw.complete(id, { steps });
  } catch (err) {
    await tw.fail(id, err instanceof Error ? err.message : String(err)).catch(() => undefined);
  }
}
