/**
 * The root layout (a server component): the WebSocket URL comes from the server's
 * settings at request time and goes to the one client-side provider.
 */
import type { ReactNode } from 'react';
import { settings } from '@/lib/settings';
import { Providers } from './providers';

export const metadata = { title: 'taskwire + Next.js' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: 'system-ui, sans-serif', maxWidth: 640, margin: '2rem auto' }}>
        <Providers wsUrl={settings.wsUrl}>{children}</Providers>
      </body>
    </html>
  );
}
