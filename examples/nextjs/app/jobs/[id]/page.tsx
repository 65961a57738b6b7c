/**
 * A job's page (a server component): it reads the task over HTTP for the first
 * paint, and hands the snapshot to the client component, whose useTask shows it
 * at once and then every change, live. Another user's task is a 404.
 */
import { notFound, redirect } from 'next/navigation';
import { TaskwireApiError } from '@taskwire/client/backend';
import { currentUser } from '@/lib/session';
import { taskwire } from '@/lib/taskwire';
import { JobProgress } from './job-progress';

export default async function JobPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const user = await currentUser();
  if (!user) redirect('/');
  const task = await taskwire()
    .get(id)
    .catch((err: unknown) => {
      if (err instanceof TaskwireApiError && err.code === 'not_found') return null;
      throw err;
    });
  if (!task || task.owner !== user) notFound();
  return (
    <main>
      <h1>{task.title ?? task.id}</h1>
      <JobProgress id={task.id} initial={task} />
      <p>
        <a href="/">Back</a>
      </p>
    </main>
  );
}
