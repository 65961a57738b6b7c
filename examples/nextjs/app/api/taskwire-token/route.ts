/**
 * POST /api/taskwire-token: the signed-in user's browser credential for taskwire,
 * a short-lived JWT naming them (`sub`). The browser client calls it through
 * `getToken` when it connects and again before the token runs out.
 */
import { NextResponse } from 'next/server';
import { currentUser } from '@/lib/session';
import { browserToken } from '@/lib/taskwire';

export async function POST() {
  const user = await currentUser();
  if (!user) return NextResponse.json({ error: 'not signed in' }, { status: 401 });
  return NextResponse.json({ token: browserToken(user) }, { headers: { 'cache-control': 'no-store' } });
}
