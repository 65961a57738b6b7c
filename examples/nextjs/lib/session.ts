/**
 * A fake login: /login?user=alice sets an httpOnly `user` cookie, and whoever
 * sends that cookie is signed in as that user. Put your own authentication here
 * (a session lookup, next-auth, …): the rest of the example only asks currentUser().
 */
import 'server-only';
import { cookies } from 'next/headers';

export const USER_COOKIE = 'user';

/** A user id taskwire accepts in channel names (`user:<id>`). */
export const isUserId = (value: string): boolean => /^[A-Za-z0-9_.\-@]{1,128}$/.test(value);

export async function currentUser(): Promise<string | null> {
  const user = (await cookies()).get(USER_COOKIE)?.value;
  return user && isUserId(user) ? user : null;
}
