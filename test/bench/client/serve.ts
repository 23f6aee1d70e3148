import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve, sep } from 'node:path';

/**
 * Serves the files under `root` on 127.0.0.1 (port chosen by the OS), GET only, 404 for anything
 * else. `requests` collects "METHOD path status" of every request (cleared by the caller).
 */
export async function serveDir(root: string): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const base = resolve(root);
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    res.on('finish', () => requests.push(`${req.method} ${req.url} ${res.statusCode}`));
    void (async () => {
      let file: string;
      try {
        file = resolve(base, '.' + decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      } catch {
        file = '';
      }
      const size = req.method === 'GET' && file.startsWith(base + sep) ? await stat(file).then((s) => (s.isFile() ? s.size : -1), () => -1) : -1;
      if (size < 0) {
        res.writeHead(404, { 'content-length': 0 }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
      createReadStream(file, { highWaterMark: 256 * 1024 }).pipe(res);
    })();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
