import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { normalizePath, type Behaviour } from './format.js';

// Serves one scenario's repository states on 127.0.0.1, one state at a time, recording every
// request. The misbehaviours a state declares (slow, stalled, endless or failing responses) are
// implemented here.

export interface RecordedRequest {
  method: string;
  /** Normalized path (see normalizePath), e.g. "/metadata/2.root.json". */
  path: string;
  /** Response bytes flushed to the connection. */
  bytesSent: number;
}

/** Filler sent after a file by the endless-data behaviour (JSON whitespace, so it looks like more of the file). */
const FILLER = Buffer.alloc(64 * 1024, 0x20);
/** The endless response stops here anyway, so a client that never stops reading cannot run the runner out of time. */
const ENDLESS_HARD_STOP = 256 * 1024 * 1024;

export class ScenarioServer {
  private readonly server: Server;
  private stateDir: string | undefined;
  private behaviours: Behaviour[] = [];
  private timers = new Set<NodeJS.Timeout>();
  /** Requests of the current step. */
  requests: RecordedRequest[] = [];

  constructor() {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
  }

  get baseUrl(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Serves `dir` (a states/<n> folder) from now on; undefined serves nothing (404). */
  setState(dir: string | undefined, behaviours: Behaviour[] = []): void {
    this.stateDir = dir;
    this.behaviours = behaviours;
  }

  /** Ends every response still running (slow and endless ones) and forgets the recorded requests. */
  resetStep(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
    this.server.closeAllConnections();
    this.requests = [];
  }

  async close(): Promise<void> {
    this.resetStep();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = normalizePath(req.url ?? '/');
    const record: RecordedRequest = { method: req.method ?? 'GET', path, bytesSent: 0 };
    this.requests.push(record);
    const segments = path.split('/').slice(1);
    const served = this.stateDir !== undefined && (segments[0] === 'metadata' || segments[0] === 'targets');
    if (!served || segments.some((s) => s === '' || s === '.' || s === '..')) return notFound(res);
    const behaviour = this.behaviours.find((b) => b.path === path);
    if (behaviour?.kind === 'status') {
      res.writeHead(behaviour.status, { 'content-length': 0 });
      res.end();
      return;
    }
    let data: Buffer;
    try {
      data = await readFile(join(this.stateDir!, ...segments));
    } catch {
      return notFound(res);
    }
    if (!behaviour) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
      res.end(data, () => (record.bytesSent = data.length));
      return;
    }
    switch (behaviour.kind) {
      case 'stall':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
        res.flushHeaders();
        return;
      case 'slow':
        this.trickle(res, data, behaviour.bytes_per_second, record);
        return;
      case 'endless':
        await this.endless(res, data, record);
        return;
    }
  }

  /** One byte at a time, `bytesPerSecond` a second: the file, then filler, until the client leaves. */
  private trickle(res: ServerResponse, data: Buffer, bytesPerSecond: number, record: RecordedRequest): void {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.flushHeaders();
    let i = 0;
    const timer = setInterval(
      () => {
        if (res.destroyed) {
          clearInterval(timer);
          this.timers.delete(timer);
          return;
        }
        res.write(i < data.length ? data.subarray(i, i + 1) : FILLER.subarray(0, 1));
        i++;
        record.bytesSent = i;
      },
      Math.max(1, Math.round(1000 / bytesPerSecond)),
    );
    this.timers.add(timer);
  }

  /** The file, then filler as fast as the client reads it, counting what was flushed. */
  private async endless(res: ServerResponse, data: Buffer, record: RecordedRequest): Promise<void> {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const send = (chunk: Buffer): Promise<void> =>
      new Promise((resolve) => {
        const ok = res.write(chunk, (err) => {
          if (!err) record.bytesSent += chunk.length;
        });
        if (ok) resolve();
        else {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        }
      });
    await send(data);
    let total = data.length;
    while (!res.destroyed && !res.writableEnded && total < ENDLESS_HARD_STOP) {
      await send(FILLER);
      total += FILLER.length;
    }
    if (!res.destroyed) res.end();
  }
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-length': 0 });
  res.end();
}
