/**
 * GET /login?user=alice: the fake login. Sets the `user` cookie and goes home,
 * with a relative Location: behind a proxy, or on 127.0.0.1, `request.url` may
 * name another host than the browser used, and the cookie would not follow.
 */
import { NextResponse, type NextRequest } from 'next/server';
import { isUserId, USER_COOKIE } from '@/lib/session';

export function GET(request: NextRequest) {
  const user = request.nextUrl.searchParams.get('user') ?? '';
  if (!isUserId(user)) return NextResponse.json({ error: 'user: 1-128 of A-Z a-z 0-9 _ . - @' }, { status: 400 });
  const response = new NextResponse(null, { status: 303, headers: { location: '/' } });
  response.cookies.set(USER_COOKIE, user, { httpOnly: true, sameSite: 'lax', path: '/' });
  return response;
}
