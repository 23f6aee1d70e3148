import { benchCanonical } from './canonical.js';
import { benchClient } from './client.js';
import { benchRepository } from './repository.js';
import { benchSignatures } from './signatures.js';

// `npm run bench`: every section in order. `node dist/test/bench/index.js client [...]` runs only
// the named sections.

const SECTIONS: Record<string, () => Promise<void>> = {
  canonical: benchCanonical,
  signatures: benchSignatures,
  repository: benchRepository,
  client: benchClient,
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !(name in SECTIONS));
  if (unknown.length > 0) {
    console.error(`unknown bench section(s): ${unknown.join(', ')} (known: ${Object.keys(SECTIONS).join(', ')})`);
    process.exit(2);
  }
  const names = wanted.length > 0 ? wanted : Object.keys(SECTIONS);
  for (const [i, name] of names.entries()) {
    if (i > 0) console.log();
    console.log(`== ${name} ==`);
    await SECTIONS[name]!();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
