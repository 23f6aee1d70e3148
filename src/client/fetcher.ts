import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { DownloadCancelledError, DownloadError, DownloadHTTPError, DownloadLengthMismatchError, SlowRetrievalError, TufError } from '../errors.js';
import { DEFAULT_CONFIG } from './config.js';
import { loadGetRequest } from './undici-request.js';

/**
 * Where the updater gets bytes from. `fetch` streams the body of `url` and must fail with
 * DownloadHTTPError (with the status) when the server refuses, DownloadLengthMismatchError as soon
 * as more than `maxLength` bytes arrive, and SlowRetrievalError when the server is too slow.
 * The updater enforces `maxLength` again on its side, so a custom fetcher cannot lift the cap.
 */
export interface Fetcher {
  fetch(url: string, maxLength: number, options?: FetchOptions): AsyncIterable<Uint8Array>;
  /**
   * Optional (resumed downloads): the body of `url` from byte `offset` on, of a file of at most
   * `maxLength` bytes. `start` says where the body really starts: `offset`, or 0 when the server
   * sent the whole file instead. Without it, an interrupted download starts over.
   */
  fetchFrom?(url: string, offset: number, maxLength: number, options?: FetchOptions): Promise<{ start: number; body: AsyncIterable<Uint8Array> }>;
}

export interface FetchOptions {
  /** Aborting it stops the request at once with DownloadCancelledError. */
  signal?: AbortSignal;
}

/** Largest buffer fetchBytes reserves before the bytes arrive. */
const PREALLOCATE_MAX = 32 * 1024 * 1024;

/**
 * Reads a whole (small) body into memory, never holding more than `maxLength` bytes. With
 * `lengthKnown` (`maxLength` is the length signed metadata gives), the body goes straight into one
 * buffer of that size as it arrives, instead of being joined at the end: a 15 MB role is then
 * copied once, while the rest of it is still on its way, and never held twice.
 */
export async function fetchBytes(fetcher: Fetcher, url: string, maxLength: number, lengthKnown = false): Promise<Uint8Array> {
  if (lengthKnown) {
    // A (signed) length far beyond what ever arrives must not reserve memory: past this, it grows.
    let body = Buffer.allocUnsafe(Math.min(maxLength, PREALLOCATE_MAX));
    let received = 0;
    // fetchStream stops the body once more than maxLength bytes came.
    for await (const chunk of fetchStream(fetcher, url, maxLength)) {
      if (received + chunk.length > body.length) {
        const grown = Buffer.allocUnsafe(Math.min(maxLength, Math.max(2 * body.length, received + chunk.length)));
        grown.set(body.subarray(0, received));
        body = grown;
      }
      body.set(chunk, received);
      received += chunk.length;
    }
    return body.subarray(0, received);
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of fetchStream(fetcher, url, maxLength)) chunks.push(chunk);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/**
 * The body of `url` as `fetcher` streams it, failing once more than `maxLength` bytes have come.
 * Whatever a (custom) fetcher does wrong is a DownloadError naming the url: throwing anything but
 * a DownloadError (kept as `cause`), or yielding chunks that are not bytes.
 */
export async function* fetchStream(fetcher: Fetcher, url: string, maxLength: number, options?: FetchOptions): AsyncGenerator<Uint8Array> {
  yield* checkedBody(() => fetcher.fetch(url, maxLength, options), url, maxLength, options?.signal);
}

/**
 * Like fetchStream, from byte `offset` on when the fetcher can (fetchFrom); `start` is where the
 * body starts (0: the whole file), `body` is capped at `maxLength - start` bytes.
 */
export async function fetchStreamFrom(
  fetcher: Fetcher,
  url: string,
  offset: number,
  maxLength: number,
  options?: FetchOptions,
): Promise<{ start: number; body: AsyncGenerator<Uint8Array> }> {
  if (offset === 0 || !fetcher.fetchFrom) return { start: 0, body: fetchStream(fetcher, url, maxLength, options) };
  let opened: { start: number; body: AsyncIterable<Uint8Array> };
  try {
    opened = await fetcher.fetchFrom(url, offset, maxLength, options);
  } catch (e) {
    throw asDownloadError(e, url, options?.signal);
  }
  const { start, body } = opened;
  if (start !== 0 && start !== offset) throw new DownloadError(`${url}: asked for the bytes from ${offset} on, the fetcher returned them from ${start} on`, url);
  return { start, body: checkedBody(() => body, url, maxLength - start, options?.signal) };
}

/** `body()`'s chunks, checked; whatever it throws (synchronously too) becomes a DownloadError. */
async function* checkedBody(body: () => AsyncIterable<unknown>, url: string, maxLength: number, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  let received = 0;
  try {
    for await (const chunk of body()) {
      if (signal?.aborted) throw cancelled(url);
      if (!(chunk instanceof Uint8Array)) {
        throw new DownloadError(`${url}: the fetcher yielded ${describeValue(chunk)}, not bytes (a Uint8Array)`, url);
      }
      received += chunk.length;
      if (received > maxLength) throw tooLong(url, maxLength);
      yield chunk;
    }
    if (signal?.aborted) throw cancelled(url);
  } catch (e) {
    throw asDownloadError(e, url, signal);
  }
}

function asDownloadError(e: unknown, url: string, signal: AbortSignal | undefined): DownloadError {
  if (signal?.aborted && !(e instanceof DownloadCancelledError)) return cancelled(url, e);
  if (e instanceof DownloadError) return e;
  return new DownloadError(`${url}: the fetcher failed: ${e instanceof Error ? e.message : String(e)}`, url, { cause: e });
}

function cancelled(url: string, cause?: unknown): DownloadCancelledError {
  return new DownloadCancelledError(`${url}: download cancelled`, url, { cause });
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
  return `a ${typeof v}`;
}

function tooLong(url: string, maxLength: number): DownloadLengthMismatchError {
  return new DownloadLengthMismatchError(`${url}: more than the allowed ${maxLength} bytes`, url);
}

export interface HttpFetcherOptions {
  /** An undici Dispatcher (Agent, ProxyAgent, MockAgent...) for every request. */
  dispatcher?: Dispatcher;
  /** Time to connect and receive the response headers. */
  requestTimeoutMs?: number;
  /** Longest silence between two body chunks. */
  idleTimeoutMs?: number;
  /** Slowest average body speed accepted once idleTimeoutMs has passed (catches trickling). */
  minBytesPerSecond?: number;
  /** Extra attempts after a transient failure before any body byte was delivered. */
  retries?: number;
  /** First retry delay, doubled each time. */
  retryBackoffMs?: number;
  /** Most redirects followed for one request. */
  maxRedirects?: number;
  userAgent?: string;
}

interface Opened {
  body: Dispatcher.ResponseData['body'];
  finalUrl: string;
  /** Where the body starts in the file (0, or the offset of a range request the server honoured). */
  start: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

// Failures a second attempt may cure. Everything else (4xx, 501, length and hash failures) is an
// answer from the server, and asking again would only hammer it.
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_CLOSED',
]);

function isTransient(e: unknown): boolean {
  if (e instanceof DownloadHTTPError) return e.status >= 500 && e.status !== 501;
  if (e instanceof SlowRetrievalError) return true;
  if (e instanceof DownloadLengthMismatchError) return false;
  if (e instanceof DownloadError) return TRANSIENT_CODES.has(errorCode(e.cause));
  return false;
}

function errorCode(e: unknown): string {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : '';
}

/** Turns an undici or system error into the tufkit error that describes it; tufkit errors pass unchanged. */
function toDownloadError(e: unknown, url: string): TufError {
  if (e instanceof TufError) return e;
  const code = errorCode(e);
  const reason = e instanceof Error ? e.message : String(e);
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new SlowRetrievalError(`${url}: timed out (${reason})`, url, { cause: e });
  }
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return new DownloadLengthMismatchError(`${url}: body length differs from Content-Length`, url, { cause: e });
  }
  return new DownloadError(`${url}: ${code ? `${code}: ` : ''}${reason}`, url, { cause: e });
}

/**
 * HTTP(S) fetcher on undici with a hard byte cap, timeouts that also catch trickling servers, and
 * retries of transient failures.
 *
 * Redirects: followed (as python-tuf and tuf-js do, since every byte is verified against signed
 * metadata anyway) up to maxRedirects, but never to another scheme: that fails with DownloadHTTPError.
 */
export class HttpFetcher implements Fetcher {
  private readonly dispatcher: Dispatcher | undefined;
  private readonly requestTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly minBytesPerSecond: number;
  private readonly retries: number;
  private readonly retryBackoffMs: number;
  private readonly maxRedirects: number;
  private readonly userAgent: string;

  constructor(options: HttpFetcherOptions = {}) {
    this.dispatcher = options.dispatcher;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_CONFIG.requestTimeoutMs;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_CONFIG.idleTimeoutMs;
    this.minBytesPerSecond = options.minBytesPerSecond ?? DEFAULT_CONFIG.minBytesPerSecond;
    this.retries = options.retries ?? DEFAULT_CONFIG.retries;
    this.retryBackoffMs = options.retryBackoffMs ?? DEFAULT_CONFIG.retryBackoffMs;
    this.maxRedirects = options.maxRedirects ?? 5;
    this.userAgent = options.userAgent ?? DEFAULT_CONFIG.userAgent;
  }

  async *fetch(url: string, maxLength: number, options: FetchOptions = {}): AsyncGenerator<Uint8Array> {
    const { body, finalUrl } = await this.openWithRetries(url, 0, maxLength, options.signal);
    yield* this.readBody(body, finalUrl, maxLength, options.signal);
  }

  /**
   * A range request for the bytes from `offset` on: a 206 whose Content-Range starts at `offset`
   * continues there; a 200 (a server ignoring ranges) is the whole file, from 0.
   */
  async fetchFrom(url: string, offset: number, maxLength: number, options: FetchOptions = {}): Promise<{ start: number; body: AsyncGenerator<Uint8Array> }> {
    const { body, finalUrl, start } = await this.openWithRetries(url, offset, maxLength, options.signal);
    return { start, body: this.readBody(body, finalUrl, maxLength - start, options.signal) };
  }

  /** Retries only happen before the first body byte is handed out: after that, the caller has data. */
  private async openWithRetries(url: string, offset: number, maxLength: number, signal: AbortSignal | undefined): Promise<Opened> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.open(url, offset, maxLength, signal);
      } catch (e) {
        const err = signal?.aborted ? cancelled(url, e) : toDownloadError(e, url);
        if (attempt >= this.retries || !isTransient(err)) throw err;
        await sleep(this.retryBackoffMs * 2 ** attempt);
      }
    }
  }

  private async open(url: string, offset: number, maxLength: number, signal: AbortSignal | undefined): Promise<Opened> {
    let current = parseHttpUrl(url);
    const scheme = current.protocol;
    for (let hop = 0; ; hop++) {
      const res = await this.requestHeaders(current, offset, signal);
      const status = res.statusCode;
      const where = current.href;
      if (status === 206 && offset > 0) {
        const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
        if (!range || Number(range[1]) !== offset) {
          discard(res.body);
          throw new DownloadHTTPError(`${where}: asked for the bytes from ${offset} on, got Content-Range "${String(res.headers['content-range'])}"`, status, where);
        }
        if (Number(range[2]) + 1 > maxLength) {
          discard(res.body);
          throw new DownloadLengthMismatchError(`${where}: Content-Range "${String(res.headers['content-range'])}" goes past the allowed ${maxLength} bytes`, where);
        }
        return { body: res.body, finalUrl: where, start: offset };
      }
      if (status === 200) {
        const announced = Number(res.headers['content-length']);
        if (Number.isFinite(announced) && announced > maxLength) {
          discard(res.body);
          throw new DownloadLengthMismatchError(`${where}: announces ${announced} bytes, more than the allowed ${maxLength}`, where);
        }
        return { body: res.body, finalUrl: where, start: 0 };
      }
      discard(res.body);
      const location = res.headers.location;
      if (REDIRECTS.has(status) && typeof location === 'string') {
        if (hop >= this.maxRedirects) throw new DownloadHTTPError(`${url}: more than ${this.maxRedirects} redirects`, status, url);
        const next = new URL(location, current);
        if (next.protocol !== scheme) {
          throw new DownloadHTTPError(`${where}: refusing redirect from ${scheme} to ${next.protocol} (${next.href})`, status, where);
        }
        current = next;
        continue;
      }
      throw new DownloadHTTPError(`${where}: HTTP ${status}${res.statusText ? ` ${res.statusText}` : ''}`, status, where);
    }
  }

  /** Sends the request; connecting plus receiving the headers must fit in requestTimeoutMs. */
  private async requestHeaders(url: URL, offset: number, signal: AbortSignal | undefined): Promise<Dispatcher.ResponseData> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.requestTimeoutMs);
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort);
    try {
      if (signal?.aborted) throw cancelled(url.href);
      const get = await loadGetRequest();
      const headers: Record<string, string> = { 'user-agent': this.userAgent, 'accept-encoding': 'identity' };
      if (offset > 0) headers.range = `bytes=${offset}-`;
      return await get(url, this.dispatcher, {
        headers,
        headersTimeout: this.requestTimeoutMs,
        bodyTimeout: this.idleTimeoutMs,
        signal: controller.signal,
      });
    } catch (e) {
      if (signal?.aborted) throw cancelled(url.href, e);
      if (controller.signal.aborted) {
        throw new SlowRetrievalError(`${url.href}: no response within ${this.requestTimeoutMs} ms`, url.href, { cause: e });
      }
      throw toDownloadError(e, url.href);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Streams the body under the byte cap and the slow-retrieval guard. Only time spent waiting for
   * the server counts: time the consumer spends with a chunk does not.
   */
  private async *readBody(body: Dispatcher.ResponseData['body'], url: string, maxLength: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let received = 0;
    let waitedMs = 0;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => void body.destroy(cancelled(url));
    signal?.addEventListener('abort', onAbort);
    try {
      if (signal?.aborted) throw cancelled(url);
      for (;;) {
        timer = setTimeout(() => {
          body.destroy(new SlowRetrievalError(`${url}: no data for ${this.idleTimeoutMs} ms after ${received} bytes`, url));
        }, this.idleTimeoutMs);
        const start = performance.now();
        let step: IteratorResult<Buffer>;
        try {
          step = await it.next();
        } finally {
          clearTimeout(timer);
          waitedMs += performance.now() - start;
        }
        if (step.done) return;
        received += step.value.length;
        if (received > maxLength) throw tooLong(url, maxLength);
        if (waitedMs > this.idleTimeoutMs && (received * 1000) / waitedMs < this.minBytesPerSecond) {
          throw new SlowRetrievalError(
            `${url}: ${received} bytes in ${Math.round(waitedMs)} ms, slower than ${this.minBytesPerSecond} bytes/s`,
            url,
          );
        }
        yield new Uint8Array(step.value.buffer, step.value.byteOffset, step.value.byteLength);
      }
    } catch (e) {
      throw toDownloadError(e, url);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      discard(body);
    }
  }
}

/** Closes a body we will not read (undici reports that as an 'error' event: ignore it). */
function discard(body: Dispatcher.ResponseData['body']): void {
  if (body.destroyed) return;
  body.on('error', () => undefined);
  body.destroy();
}

function parseHttpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (e) {
    throw new DownloadError(`"${url}" is not a valid URL`, url, { cause: e });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new DownloadError(`${url}: only http and https URLs can be fetched`, url);
  }
  return parsed;
}
