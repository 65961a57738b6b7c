/** Home: sign in (fake), then start a job. */
import { currentUser } from '@/lib/session';

export default async function Home() {
  const user = await currentUser();
  if (!user) {
    return (
      <main>
        <h1>taskwire + Next.js</h1>
        <p>
          Not signed in. <a href="/login?user=alice">Sign in as alice</a> (a fake login: any name works).
        </p>
      </main>
    );
  }
  return (
    <main>
      <h1>Hello {user}</h1>
      <form action="/api/jobs" method="post">
        <button type="submit">Start a job</button>
      </form>
    </main>
  );
}
