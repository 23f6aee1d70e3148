import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';

// undici's index loads all it offers (fetch, WebSocket, caches, mocks, interceptors): about 90 ms
// and 19 MB in a fresh process, which needs one thing, a GET. undici's request API and its global
// dispatcher alone cost under half of that. They are files of undici rather than its index, so if a
// later undici moves them, the index is loaded instead: slower, never broken.

export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'>;

/** A GET of `url` through `dispatcher`, or undici's global dispatcher (setGlobalDispatcher) when undefined. */
export type GetRequest = (url: URL, dispatcher: Dispatcher | undefined, options: RequestOptions) => Promise<Dispatcher.ResponseData>;

type ApiRequest = (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

let loading: Promise<GetRequest> | undefined;

/** Loads undici on first use (a CLI run or an offline updater that fetches nothing never pays for it). */
export function loadGetRequest(): Promise<GetRequest> {
  return (loading ??= load());
}

async function load(): Promise<GetRequest> {
  try {
    return getFromUndiciFiles();
  } catch {
    return await getFromUndiciIndex();
  }
}

/** undici's `request` from its index (exported for tests). */
export async function getFromUndiciIndex(): Promise<GetRequest> {
  const { request } = await import('undici');
  return (url, dispatcher, options) => request(url, { ...options, method: 'GET', dispatcher });
}

/** What undici's index does for `request(url, options)`, from the two files it needs (exported for tests). */
export function getFromUndiciFiles(): GetRequest {
  const require = createRequire(import.meta.url);
  const apiRequest = require('undici/lib/api/api-request.js') as unknown;
  const global = require('undici/lib/global.js') as { getGlobalDispatcher?: unknown };
  const getGlobalDispatcher = global.getGlobalDispatcher;
  if (typeof apiRequest !== 'function' || typeof getGlobalDispatcher !== 'function') throw new Error('undici layout changed');
  return (url, dispatcher, options) =>
    (apiRequest as ApiRequest).call(dispatcher ?? (getGlobalDispatcher as () => Dispatcher)(), {
      ...options,
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
    });
}
