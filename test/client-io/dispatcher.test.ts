import { createServer as createNetServer, connect, type Server as NetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Agent, getGlobalDispatcher, ProxyAgent, setGlobalDispatcher, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, HttpFetcher } from '../../src/client/fetcher.js';
import { getFromUndiciFiles, getFromUndiciIndex, loadGetRequest } from '../../src/client/undici-request.js';
import { RouteServer } from './http-server.js';

// The "proxy/dispatcher option": requests go through the dispatcher a user passes, or
// through undici's global dispatcher, also when undici is loaded from its files rather than its index.

/** An Agent that counts what it dispatches. */
class CountingAgent extends Agent {
  dispatched: string[] = [];
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.dispatched.push(`${String(options.origin)}${options.path}`);
    return super.dispatch(options, handler);
  }
}

/** A forward proxy that only tunnels (CONNECT), recording where to. */
async function startConnectProxy(): Promise<{ url: string; tunnels: string[]; close: () => Promise<void> }> {
  const tunnels: string[] = [];
  const server: NetServer = createNetServer((client) => {
    client.once('data', (head) => {
      const text = head.toString('latin1');
      const match = /^CONNECT ([^ ]+) HTTP\/1\.1\r\n/.exec(text);
      if (!match) return void client.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
      tunnels.push(match[1]!);
      const [host, port] = match[1]!.split(':');
      const upstream = connect(Number(port), host!, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(client).pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

let server: RouteServer;
let url: string;
beforeAll(async () => {
  server = await RouteServer.start();
  url = server.route('/file', (_req, res) => void res.end('through the dispatcher'));
  server.route('/file?q=1', (_req, res) => void res.end('with the query'));
});
afterAll(() => server.close());

const previousGlobal = getGlobalDispatcher();
afterEach(() => setGlobalDispatcher(previousGlobal));

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

describe('HttpFetcher dispatcher', () => {
  it('sends every request through the dispatcher option', async () => {
    const agent = new CountingAgent();
    const bytes = await fetchBytes(new HttpFetcher({ dispatcher: agent, retries: 0 }), url, 1000);
    expect(text(bytes)).toBe('through the dispatcher');
    expect(agent.dispatched).toEqual([new URL(url).origin + '/file']);
    await agent.close();
  });

  it("uses undici's global dispatcher when given none", async () => {
    const agent = new CountingAgent();
    setGlobalDispatcher(agent);
    expect(text(await fetchBytes(new HttpFetcher({ retries: 0 }), url, 1000))).toBe('through the dispatcher');
    expect(agent.dispatched).toHaveLength(1);
    await agent.close();
  });

  it('goes through an undici ProxyAgent (a CONNECT proxy on 127.0.0.1)', async () => {
    const proxy = await startConnectProxy();
    const agent = new ProxyAgent({ uri: proxy.url, proxyTunnel: true });
    try {
      expect(text(await fetchBytes(new HttpFetcher({ dispatcher: agent, retries: 0 }), url, 1000))).toBe('through the dispatcher');
      expect(proxy.tunnels).toEqual([new URL(url).host]);
    } finally {
      await agent.close();
      await proxy.close();
    }
  });
});

describe('loading undici', () => {
  it('loads only the request API and global dispatcher files of the installed undici', async () => {
    // If a new undici moves these files, the index is used instead: this test says so.
    expect(getFromUndiciFiles).not.toThrow();
    const get = await loadGetRequest();
    const agent = new CountingAgent();
    const res = await get(new URL(url + '?q=1#fragment'), agent, {});
    expect(await res.body.text()).toBe('with the query');
    expect(agent.dispatched).toEqual([new URL(url).origin + '/file?q=1']);
    await agent.close();
  });

  it('files and index make the same GET, through a given or the global dispatcher', async () => {
    for (const get of [getFromUndiciFiles(), await getFromUndiciIndex()]) {
      const given = new CountingAgent();
      const res = await get(new URL(url), given, { headers: { 'user-agent': 'test' } });
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('through the dispatcher');
      expect(given.dispatched).toHaveLength(1);

      const global = new CountingAgent();
      setGlobalDispatcher(global);
      const viaGlobal = await get(new URL(url), undefined, {});
      expect(await viaGlobal.body.text()).toBe('through the dispatcher');
      expect(global.dispatched).toHaveLength(1);
      setGlobalDispatcher(previousGlobal);
      await given.close();
      await global.close();
    }
  });
});
