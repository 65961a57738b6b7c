/**
 * POST /api/jobs: creates a task for the signed-in user, starts the job, and
 * answers 303 to the job's page (a form post), or `{id}` to a request that
 * accepts JSON.
 */
import { NextResponse, type NextRequest } from 'next/server';
import { runJob } from '@/lib/job';
import { currentUser } from '@/lib/session';
import { taskwire } from '@/lib/taskwire';

export async function POST(request: NextRequest) {
  const user = await currentUser();
  if (!user) return NextResponse.json({ error: 'not signed in' }, { status: 401 });
  const task = await taskwire().createTask({ owner: user, title: 'Crunch numbers' });
  void runJob(task.id);
  if (request.headers.get('accept')?.includes('application/json')) return NextResponse.json({ id: task.id });
  return new NextResponse(null, { status: 303, headers: { location: `/jobs/${encodeURIComponent(task.id)}` } });
}
