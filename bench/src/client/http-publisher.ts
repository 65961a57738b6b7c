/**
 * A backend worker's task updates over HTTP: `PATCH /api/v1/tasks/:id` with the API
 * key, JSON body `{"progress":…,"meta":{"t":…}}`, over `http.Agent({ keepAlive: true })`
 * with a fixed number of sockets (undici's Pool cost the load generator the same
 * CPU; fetch cost 4× more). Resolves when the whole 200 response has been read.
 */
import { Agent, request } from 'node:http';

export class HttpPublisher {
  private readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(
    baseUrl: string,
    connections: number,
    private readonly apiKey: string,
  ) {
    const u = new URL(baseUrl);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  }

  update(taskId: string, body: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: this.host,
          port: this.port,
          method: 'PATCH',
          path: `/api/v1/tasks/${encodeURIComponent(taskId)}`,
          headers: {
            authorization: `Bearer ${this.apiKey}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status === 200) {
            res.resume();
            res.on('end', resolve);
            res.on('error', reject);
            return;
          }
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            reject(new Error(`PATCH ${taskId}: ${status} ${Buffer.concat(chunks).toString().slice(0, 200)}`)),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
