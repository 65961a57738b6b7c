/** A minimal test WebSocket client over the `ws` package: authenticate, collect frames, await one. */
import WebSocket from 'ws';

export type Frame = Record<string, unknown> & { type: string };

export interface TestSocket {
  frames: Frame[];
  send(frame: Record<string, unknown>): void;
  /** The first frame (already received or coming) that matches. */
  waitFor(pred: (f: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  close(): Promise<void>;
}

export async function connect(wsUrl: string, token: string): Promise<TestSocket> {
  const ws = new WebSocket(wsUrl);
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data: Buffer) => {
    frames.push(JSON.parse(data.toString()) as Frame);
    for (const w of [...waiters]) w();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const socket: TestSocket = {
    frames,
    send: (frame) => ws.send(JSON.stringify(frame)),
    waitFor(pred, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = frames.find(pred);
          if (hit) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching frame in ${timeoutMs} ms; got ${JSON.stringify(frames).slice(0, 2000)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
      return new Promise((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000);
      });
    },
  };
  socket.send({ op: 'auth', token });
  await socket.waitFor((f) => f.type === 'welcome' || f.type === 'error');
  return socket;
}
