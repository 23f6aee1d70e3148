import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, HttpFetcher, type Fetcher } from '../../src/client/fetcher.js';
import { DownloadError, DownloadHTTPError, DownloadLengthMismatchError, SlowRetrievalError } from '../../src/errors.js';
import type { ServerResponse } from 'node:http';
import { RouteServer, sleep } from './http-server.js';

/** Resolves when `res` can take more data or is gone. */
function writable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

let server: RouteServer;
beforeAll(async () => {
  server = await RouteServer.start();
});
afterAll(() => server.close());

const quick = { retries: 0, requestTimeoutMs: 2000, idleTimeoutMs: 400, minBytesPerSecond: 1000, retryBackoffMs: 10 };

describe('HttpFetcher', () => {
  it('streams a body', async () => {
    const url = server.route('/ok', (_req, res) => void res.end('hello'));
    const bytes = await fetchBytes(new HttpFetcher(quick), url, 5);
    expect(Buffer.from(bytes).toString()).toBe('hello');
  });

  it('stops reading endless data once the cap is passed, and tears the stream down', async () => {
    const chunk = Buffer.alloc(16 * 1024, 1);
    const url = server.route('/endless', async (_req, res) => {
      res.writeHead(200); // chunked: no length announced
      while (!res.destroyed) {
        if (!res.write(chunk)) await writable(res);
      }
    });
    const cap = 100_000;
    let delivered = 0;
    const consume = async (): Promise<void> => {
      for await (const c of new HttpFetcher(quick).fetch(url, cap)) delivered += c.length;
    };
    await expect(consume()).rejects.toBeInstanceOf(DownloadLengthMismatchError);
    expect(delivered).toBeLessThanOrEqual(cap);
    // The connection is closed by the client: the endless writer stops.
    await server.closed.get('/endless');
  });

  it('refuses a body whose Content-Length is over the cap without reading it', async () => {
    const url = server.route('/big', (_req, res) => {
      res.writeHead(200, { 'content-length': 1_000_000 });
      res.write(Buffer.alloc(10));
    });
    await expect(fetchBytes(new HttpFetcher(quick), url, 1000)).rejects.toBeInstanceOf(DownloadLengthMismatchError);
  });

  it('fails a trickling server with SlowRetrievalError soon after the idle window', async () => {
    const url = server.route('/trickle', async (_req, res) => {
      res.writeHead(200);
      while (!res.destroyed) {
        res.write('x');
        await sleep(40); // 25 bytes/s: never idle for 400 ms, far below 1000 bytes/s
      }
    });
    const start = Date.now();
    await expect(fetchBytes(new HttpFetcher(quick), url, 1_000_000)).rejects.toBeInstanceOf(SlowRetrievalError);
    expect(Date.now() - start).toBeLessThan(2000);
  });

  it('fails a server that goes silent mid-body with SlowRetrievalError', async () => {
    const url = server.route('/silent', (_req, res) => {
      res.writeHead(200);
      res.write('partial');
    });
    const start = Date.now();
    await expect(fetchBytes(new HttpFetcher(quick), url, 1000)).rejects.toBeInstanceOf(SlowRetrievalError);
    expect(Date.now() - start).toBeLessThan(1500);
  });

  it('fails a server that never answers with SlowRetrievalError after requestTimeoutMs', async () => {
    const url = server.route('/mute', () => undefined);
    const start = Date.now();
    await expect(fetchBytes(new HttpFetcher({ ...quick, requestTimeoutMs: 300 }), url, 1000)).rejects.toBeInstanceOf(SlowRetrievalError);
    expect(Date.now() - start).toBeLessThan(1500);
  });

  it('reports 404 and 403 as DownloadHTTPError with the status, without retrying', async () => {
    const url404 = server.route('/missing', (_req, res) => void res.writeHead(404).end('no'));
    const url403 = server.route('/forbidden', (_req, res) => void res.writeHead(403).end('no'));
    const fetcher = new HttpFetcher({ ...quick, retries: 2 });
    const e404 = await fetchBytes(fetcher, url404, 100).catch((e: unknown) => e);
    expect(e404).toBeInstanceOf(DownloadHTTPError);
    expect((e404 as DownloadHTTPError).status).toBe(404);
    const e403 = await fetchBytes(fetcher, url403, 100).catch((e: unknown) => e);
    expect((e403 as DownloadHTTPError).status).toBe(403);
    expect(server.hits.get('/missing')).toBe(1);
    expect(server.hits.get('/forbidden')).toBe(1);
  });

  it('retries a transient 503 and then succeeds', async () => {
    const url = server.route('/flaky', (_req, res, attempt) => {
      if (attempt === 1) res.writeHead(503).end('busy');
      else res.end('fine');
    });
    const bytes = await fetchBytes(new HttpFetcher({ ...quick, retries: 2 }), url, 100);
    expect(Buffer.from(bytes).toString()).toBe('fine');
    expect(server.hits.get('/flaky')).toBe(2);
  });

  it('gives up after the configured retries, and never retries 501', async () => {
    const url503 = server.route('/down', (_req, res) => void res.writeHead(503).end());
    const url501 = server.route('/unimplemented', (_req, res) => void res.writeHead(501).end());
    const fetcher = new HttpFetcher({ ...quick, retries: 2 });
    await expect(fetchBytes(fetcher, url503, 100)).rejects.toBeInstanceOf(DownloadHTTPError);
    expect(server.hits.get('/down')).toBe(3);
    await expect(fetchBytes(fetcher, url501, 100)).rejects.toBeInstanceOf(DownloadHTTPError);
    expect(server.hits.get('/unimplemented')).toBe(1);
  });

  it('retries a connection that was reset before any byte', async () => {
    const url = server.route('/reset', (req, res, attempt) => {
      if (attempt === 1) req.socket.destroy();
      else res.end('after reset');
    });
    const bytes = await fetchBytes(new HttpFetcher({ ...quick, retries: 1 }), url, 100);
    expect(Buffer.from(bytes).toString()).toBe('after reset');
  });

  it('reports a refused connection as DownloadError', async () => {
    const fetcher = new HttpFetcher({ ...quick, retries: 0 });
    await expect(fetchBytes(fetcher, 'http://127.0.0.1:1/x', 100)).rejects.toBeInstanceOf(DownloadError);
  });

  it('follows a same-scheme redirect but refuses one to another scheme', async () => {
    const target = server.route('/moved-here', (_req, res) => void res.end('moved'));
    const url = server.route('/redirect', (_req, res) => void res.writeHead(302, { location: target }).end());
    expect(Buffer.from(await fetchBytes(new HttpFetcher(quick), url, 100)).toString()).toBe('moved');
    const toHttps = server.route('/to-https', (_req, res) => void res.writeHead(301, { location: 'https://127.0.0.1:1/x' }).end());
    const e = await fetchBytes(new HttpFetcher(quick), toHttps, 100).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(DownloadHTTPError);
    expect((e as DownloadHTTPError).status).toBe(301);
  });

  it('refuses URLs that are not http or https', async () => {
    await expect(fetchBytes(new HttpFetcher(quick), 'file:///etc/passwd', 100)).rejects.toBeInstanceOf(DownloadError);
  });
});

describe('fetchBytes', () => {
  it('enforces the cap even when a custom fetcher ignores it', async () => {
    let produced = 0;
    const careless: Fetcher = {
      async *fetch() {
        for (;;) {
          produced += 1000;
          yield new Uint8Array(1000);
        }
      },
    };
    await expect(fetchBytes(careless, 'http://example.invalid/x', 5000)).rejects.toBeInstanceOf(DownloadLengthMismatchError);
    expect(produced).toBeLessThanOrEqual(6000);
  });
});

describe('fetchBytes with a length from signed metadata', () => {
  const chunked = (total: number, size: number): Fetcher => ({
    async *fetch() {
      for (let at = 0; at < total; at += size) yield Buffer.alloc(Math.min(size, total - at), at / size);
    },
  });

  it('gathers the body in one buffer, also past the part reserved up front, and returns exactly what came', async () => {
    const total = 40 * 1024 * 1024 + 7;
    const bytes = await fetchBytes(chunked(total, 1024 * 1024), 'http://x/big.json', total, true);
    expect(bytes.length).toBe(total);
    for (const at of [0, 1024 * 1024, 32 * 1024 * 1024 - 1, 32 * 1024 * 1024, total - 1]) expect(bytes[at]).toBe(Math.floor(at / (1024 * 1024)) % 256);
    const short = await fetchBytes(chunked(1000, 300), 'http://x/short.json', 5000, true);
    expect(Buffer.from(short)).toEqual(Buffer.concat([Buffer.alloc(300, 0), Buffer.alloc(300, 1), Buffer.alloc(300, 2), Buffer.alloc(100, 3)]));
  });

  it('still refuses a body longer than the length', async () => {
    await expect(fetchBytes(chunked(1001, 300), 'http://x/long.json', 1000, true)).rejects.toThrow(DownloadLengthMismatchError);
  });
});
