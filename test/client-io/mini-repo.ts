import { createHash } from 'node:crypto';
import { InMemorySigner, type Signer } from '../../src/crypto/signer.js';
import { Key, Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp } from '../../src/models/index.js';
import type { RouteServer } from './http-server.js';

// The smallest signed repository the I/O tests need (one ed25519 key for every role, consistent
// snapshots), kept as a map of URL path -> bytes and served by a RouteServer.

export class MiniRepo {
  /** URL path under the server ("/metadata/1.root.json", "/targets/<hash>.a.txt") -> bytes. */
  readonly files = new Map<string, Uint8Array>();
  rootBytes!: Uint8Array;

  private constructor(private readonly signer: Signer) {}

  static async create(targets: Record<string, string>, expires = new Date(Date.now() + 86400_000)): Promise<MiniRepo> {
    const signer = await InMemorySigner.generate('ed25519');
    const repo = new MiniRepo(signer);
    const key = Key.fromPublicJSON(signer.publicKey as Record<string, unknown>);
    const root = new Root({ version: 1, expires, consistentSnapshot: true });
    for (const role of ['root', 'timestamp', 'snapshot', 'targets'] as const) root.addKey(key, role);
    repo.rootBytes = await repo.sign(new Metadata(root));
    repo.files.set('/metadata/1.root.json', repo.rootBytes);

    const files = new Map<string, TargetFile>();
    for (const [path, content] of Object.entries(targets)) {
      const data = Buffer.from(content);
      const info = TargetFile.fromData(path, data);
      files.set(path, info);
      const slash = path.lastIndexOf('/');
      const urlPath = `${path.slice(0, slash + 1)}${info.hashes.sha256}.${path.slice(slash + 1)}`;
      repo.files.set(`/targets/${urlPath.split('/').map(encodeURIComponent).join('/')}`, data);
    }
    const targetsBytes = await repo.sign(new Metadata(new Targets({ version: 1, expires, targets: files })));
    repo.files.set('/metadata/1.targets.json', targetsBytes);
    const snapshotBytes = await repo.sign(
      new Metadata(new Snapshot({ version: 1, expires, meta: new Map([['targets.json', new MetaFile(1, targetsBytes.length, { sha256: sha256(targetsBytes) })]]) })),
    );
    repo.files.set('/metadata/1.snapshot.json', snapshotBytes);
    const timestampBytes = await repo.sign(
      new Metadata(new Timestamp({ version: 1, expires, snapshotMeta: new MetaFile(1, snapshotBytes.length, { sha256: sha256(snapshotBytes) }) })),
    );
    repo.files.set('/metadata/timestamp.json', timestampBytes);
    return repo;
  }

  private async sign(md: Metadata): Promise<Uint8Array> {
    await md.sign(this.signer);
    return md.toBytes();
  }

  /** Serves every file (anything else is a 404); returns the metadata and targets base URLs. */
  serve(server: RouteServer): { metadataUrl: string; targetsUrl: string } {
    for (const [path, bytes] of this.files) server.route(path, (_req, res) => void res.end(Buffer.from(bytes)));
    return { metadataUrl: `${server.url}/metadata/`, targetsUrl: `${server.url}/targets/` };
  }
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
