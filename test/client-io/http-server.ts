import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A bare node:http server on 127.0.0.1 whose every path is answered by a test-supplied handler,
// counting requests per path and remembering when each response was torn down.

export type Handler = (req: IncomingMessage, res: ServerResponse, attempt: number) => void | Promise<void>;

export class RouteServer {
  readonly hits = new Map<string, number>();
  /** Resolves per path when the client closes (or finishes) the last response of that path. */
  readonly closed = new Map<string, Promise<void>>();
  private readonly routes = new Map<string, Handler>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<RouteServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const self = new RouteServer(server, `http://127.0.0.1:${port}`);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void self.handle(req, res));
    return self;
  }

  route(path: string, handler: Handler): string {
    this.routes.set(path, handler);
    return this.url + path;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    const attempt = (this.hits.get(path) ?? 0) + 1;
    this.hits.set(path, attempt);
    this.closed.set(path, new Promise((resolve) => res.on('close', () => resolve())));
    const handler = this.routes.get(path);
    if (!handler) {
      res.writeHead(404).end();
      return;
    }
    await handler(req, res, attempt);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
