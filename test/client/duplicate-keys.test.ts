import { afterEach, describe, expect, it } from 'vitest';
import { UnsignedMetadataError } from '../../src/index.js';
import { cleanup, errorOf, setup } from '../helpers/client.js';
import { KEY_ALIASES } from '../helpers/key-aliases.js';
import { utf8 } from '../helpers/repo.js';

// A threshold counts keys, not keyids: one key listed twice, written two ways, is one signer.

afterEach(cleanup);

describe('one key under two keyids counts once (client)', () => {
  it.each(KEY_ALIASES.map((a) => [a.name, a] as const))('targets threshold 2 met only by the %s is refused', async (_name, a) => {
    const key = a.make();
    const env = await setup({
      build: async (r) => {
        await r.rotateRoot(() => r.setKeys('targets', [key, a.alias(key)], 2));
        r.addTarget('app.tgz', utf8('malware'));
        await r.publish();
      },
    });
    const e = await errorOf(() => env.updater().refresh());
    expect(e).toBeInstanceOf(UnsignedMetadataError);
    expect((e as Error).message).toMatch(/role "targets" \(.*targets\.json, delegated by "root"\): 1 valid signature\(s\) from authorised keys, 2 needed/);
  });

  it('root threshold 2 met only by one ed25519 key in lower- and upper-case hex: root version 2 is refused', async () => {
    const [a] = KEY_ALIASES;
    const key = a!.make();
    const env = await setup({ build: async (r) => void (await r.rotateRoot(() => r.setKeys('root', [key, a!.alias(key)], 2))) });
    const e = await errorOf(() => env.updater().refresh());
    expect(e).toBeInstanceOf(UnsignedMetadataError);
    expect((e as Error).message).toMatch(/role "root" \(2\.root\.json, its own keys\): 1 valid signature/);
  });

  it.each(KEY_ALIASES.map((a) => [a.name, a] as const))('two distinct keys of that type still reach 2 (%s)', async (_name, a) => {
    const env = await setup({
      build: async (r) => {
        await r.rotateRoot(() => r.setKeys('targets', [a.make(), a.make()], 2));
        r.addTarget('app.tgz', utf8('app'));
        await r.publish();
      },
    });
    const u = env.updater();
    await u.refresh();
    expect((await u.getTargetInfo('app.tgz'))?.length).toBe(3);
  });
});
