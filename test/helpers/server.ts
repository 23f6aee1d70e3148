import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

// A real HTTP server on 127.0.0.1 that serves a repository folder the way a client fetches it,
// records every request, and can be told to misbehave on chosen paths (the attacks).
//
// Requests are matched on their *logical* path: the URL path percent-decoded as a whole, so a
// test does not depend on how the client chose to encode a role name or target path. The folder
// layout on disk comes from diskPath() below, which the test repository uses when publishing.

/** What the server does instead of serving the file, for one logical path. */
export interface Override {
  /** Answer with this HTTP status (and an empty or `body` body). */
  status?: number;
  /** Serve these bytes instead of the file. */
  body?: Uint8Array;
  /** Endless data attack: stream bytes until the client hangs up (capped at `endlessCap`). */
  endless?: boolean;
  /** Slow retrieval attack: send the body (or endless bytes) `bytes` at a time every `intervalMs`. */
  trickle?: { bytes: number; intervalMs: number };
  /** Wait this long before answering. */
  delayMs?: number;
  /** Send the headers of the whole body, then only its first `cutAfter` bytes, then drop the connection. */
  cutAfter?: number;
  /** Apply only to the next `times` requests of this path, then serve normally. */
  times?: number;
}

export interface RecordedRequest {
  /** The request target exactly as the client sent it (still percent-encoded). */
  raw: string;
  /** The percent-decoded path, without query string. */
  logical: string;
  /** Bytes of body the server wrote for it. */
  bytesSent: number;
  status: number;
  /** The Range header of the request, if any. */
  range?: string;
}

/** A safety net for clients that ignore every length cap: an endless response stops here. */
export const endlessCap = 64 * 1024 * 1024;

/**
 * The file that holds logical path `logical` ("/metadata/1.root.json", "/targets/a/b.txt")
 * under `root`. Paths whose segments are plain names map to the same nested path; anything else
 * (segments "", "." or "..", from names like "../x" or "/x") maps to one flat file whose name is the
 * percent-encoded rest, so no path can ever leave the folder.
 */
export function diskPath(root: string, logical: string, nested = true): string {
  const m = /^\/?([^/]+)\/(.*)$/s.exec(logical);
  if (!m) return path.join(root, '%invalid');
  const [, top, rest] = m as unknown as [string, string, string];
  const segments = rest.split('/');
  if (nested && isPlainPath(segments)) return path.join(root, encodeSegment(top), ...segments);
  return path.join(root, encodeSegment(top), encodeSegment(rest));
}

function isPlainPath(segments: string[]): boolean {
  return segments.every((s) => s !== '' && s !== '.' && s !== '..' && !s.includes('\\') && !s.includes('\0'));
}

/** One safe file name for any string: percent-encoded, with "." and ".." spelled out. */
export function encodeSegment(s: string): string {
  if (s === '.' || s === '..') return s.replace(/\./g, '%2E');
  return encodeURIComponent(s);
}

export class TestServer {
  readonly requests: RecordedRequest[] = [];
  /** Delay before every answer (to stretch a refresh, e.g. for kill tests). */
  delayAllMs = 0;
  /** Answer "Range: bytes=N-" requests with 206 and the bytes from N on (off: every answer is 200). */
  acceptRanges = false;
  /** Called as each request arrives (e.g. to kill the client at its k-th request). */
  onRequest: ((r: RecordedRequest) => void) | undefined;
  private readonly overrides = new Map<string, Override>();
  private readonly open = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly root: string,
    readonly url: string,
  ) {}

  /** Serves `root` on 127.0.0.1 at a free port. */
  static async start(root: string): Promise<TestServer> {
    const handler: { self?: TestServer } = {};
    const server = createServer((req, res) => void handler.self!.handle(req, res));
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    handler.self = new TestServer(server, root, `http://127.0.0.1:${port}`);
    return handler.self;
  }

  get metadataUrl(): string {
    return `${this.url}/metadata`;
  }

  get targetsUrl(): string {
    return `${this.url}/targets`;
  }

  /** Makes the server misbehave for `logicalPath` (e.g. "/metadata/timestamp.json"). */
  override(logicalPath: string, o: Override): void {
    this.overrides.set(logicalPath, { ...o });
  }

  clearOverrides(): void {
    this.overrides.clear();
  }

  resetRequests(): void {
    this.requests.length = 0;
  }

  /** Logical paths requested, in order. */
  get paths(): string[] {
    return this.requests.map((r) => r.logical);
  }

  /** Logical paths requested under /metadata/, without the folder, in order. */
  get metadataRequests(): string[] {
    return this.paths.filter((p) => p.startsWith('/metadata/')).map((p) => p.slice('/metadata/'.length));
  }

  /** Logical paths requested under /targets/, without the folder, in order. */
  get targetRequests(): string[] {
    return this.paths.filter((p) => p.startsWith('/targets/')).map((p) => p.slice('/targets/'.length));
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = req.url ?? '/';
    const rawPath = raw.split('?')[0]!;
    let logical: string;
    try {
      logical = decodeURIComponent(rawPath);
    } catch {
      logical = rawPath;
    }
    const record: RecordedRequest = { raw, logical, bytesSent: 0, status: 200, range: req.headers.range };
    this.requests.push(record);
    this.onRequest?.(record);
    this.open.add(res);
    res.on('close', () => this.open.delete(res));

    let o = this.overrides.get(logical);
    if (o?.times !== undefined) {
      if (o.times <= 0) o = undefined;
      else o.times--;
    }
    const delay = (o?.delayMs ?? 0) + this.delayAllMs;
    if (delay > 0) await sleep(delay);
    if (res.destroyed) return;

    if (o?.status !== undefined) {
      record.status = o.status;
      res.writeHead(o.status, { 'content-type': 'application/octet-stream' });
      if (o.body) record.bytesSent = o.body.length;
      res.end(o.body ? Buffer.from(o.body) : undefined);
      return;
    }
    if (o?.endless) return this.sendEndless(res, record, o.trickle);

    let body: Uint8Array | undefined = o?.body;
    if (!body) body = await this.readFile(logical);
    if (!body) {
      record.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    if (o?.trickle) return this.sendTrickle(res, record, body, o.trickle);
    if (o?.cutAfter !== undefined) {
      record.bytesSent = Math.min(o.cutAfter, body.length);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.write(Buffer.from(body.subarray(0, o.cutAfter)), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    const range = this.acceptRanges ? /^bytes=(\d+)-$/.exec(req.headers.range ?? '') : null;
    if (range && Number(range[1]) < body.length) {
      const start = Number(range[1]);
      record.status = 206;
      record.bytesSent = body.length - start;
      res.writeHead(206, {
        'content-type': 'application/octet-stream',
        'content-length': body.length - start,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
      res.end(Buffer.from(body.subarray(start)));
      return;
    }
    record.bytesSent = body.length;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(Buffer.from(body));
  }

  private async readFile(logical: string): Promise<Uint8Array | undefined> {
    // A request that escaped the served folders never maps to a file.
    if (!logical.startsWith('/metadata/') && !logical.startsWith('/targets/')) return undefined;
    for (const nested of [true, false]) {
      try {
        return await readFile(diskPath(this.root, logical, nested));
      } catch {
        // try the next layout
      }
    }
    return undefined;
  }

  private async sendEndless(res: ServerResponse, record: RecordedRequest, trickle?: Override['trickle']): Promise<void> {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(trickle?.bytes ?? 64 * 1024, 0x7b); // '{'
    while (!res.destroyed && record.bytesSent < endlessCap) {
      record.bytesSent += chunk.length;
      const drained = res.write(chunk);
      if (trickle) await sleep(trickle.intervalMs);
      else if (!drained) await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.once('drain', done);
        res.once('close', done);
      });
    }
    if (!res.destroyed) res.end();
  }

  private async sendTrickle(res: ServerResponse, record: RecordedRequest, body: Uint8Array, trickle: NonNullable<Override['trickle']>): Promise<void> {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    for (let i = 0; i < body.length && !res.destroyed; i += trickle.bytes) {
      const part = body.subarray(i, i + trickle.bytes);
      record.bytesSent += part.length;
      res.write(Buffer.from(part));
      await sleep(trickle.intervalMs);
    }
    if (!res.destroyed) res.end();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
