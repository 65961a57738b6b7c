import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { beforeWrite, type Batched } from './write-batch.js';

/** A real TCP socket behind the batch, as the Wire is. */
class Batch implements Batched {
  turn = -1;
  corked = false;
  constructor(readonly socket: Socket) {}
  cork(): void {
    this.socket.cork();
  }
  uncork(): void {
    this.socket.uncork();
  }
  write(text: string): void {
    beforeWrite(this);
    this.socket.write(text);
  }
}

const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((close) => close()));

async function pair(): Promise<{ sender: Socket; received: () => string }> {
  let text = '';
  const server = createServer((s) => s.on('data', (d: Buffer) => (text += d.toString())));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const sender = connect(port, '127.0.0.1');
  await once(sender, 'connect');
  closers.push(() => {
    sender.destroy();
    server.close();
  });
  return { sender, received: () => text };
}

const tick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

describe('write batch', () => {
  it('sends the first write of a turn at once and corks the rest until the next tick', async () => {
    const { sender, received } = await pair();
    const b = new Batch(sender);
    b.write('a');
    expect(sender.writableCorked).toBe(0);
    expect(sender.writableLength).toBe(0); // written straight to the kernel
    b.write('b');
    b.write('c');
    expect(sender.writableCorked).toBe(1);
    expect(sender.writableLength).toBe(2); // held: counted in bufferedAmount
    await tick();
    expect(sender.writableCorked).toBe(0);
    b.write('d'); // a new turn: straight out again
    expect(sender.writableCorked).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received()).toBe('abcd');
  });

  it('flushes every socket corked in the turn, each in its order', async () => {
    const one = await pair();
    const two = await pair();
    const a = new Batch(one.sender);
    const b = new Batch(two.sender);
    for (let i = 0; i < 5; i++) {
      a.write(`a${i}`);
      b.write(`b${i}`);
    }
    expect([one.sender.writableCorked, two.sender.writableCorked]).toEqual([1, 1]);
    await tick();
    expect([one.sender.writableCorked, two.sender.writableCorked]).toEqual([0, 0]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(one.received()).toBe('a0a1a2a3a4');
    expect(two.received()).toBe('b0b1b2b3b4');
  });

  it('drops nothing when a corked socket ends in the same turn (end flushes)', async () => {
    const { sender, received } = await pair();
    const b = new Batch(sender);
    b.write('x');
    b.write('y');
    sender.end('z');
    await tick();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received()).toBe('xyz');
  });
});
