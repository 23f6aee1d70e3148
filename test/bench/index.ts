import { benchCanonical } from './canonical.js';
import { benchClient } from './client.js';
import { benchPublish, benchRepository } from './repository.js';
import { benchServe } from './serve-load.js';
import { benchSignatures } from './signatures.js';

// `npm run bench`: every section in order. `node dist/test/bench/index.js client [...]` runs only
// the named sections; options after them go to the client section (`client --only flat-1000 --runs 3`).

const SECTIONS: Record<string, (options: string[]) => Promise<void>> = {
  canonical: benchCanonical,
  signatures: benchSignatures,
  repository: benchRepository,
  publish: benchPublish,
  client: benchClient,
  serve: benchServe,
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const firstOption = args.findIndex((a) => a.startsWith('--'));
  const wanted = firstOption < 0 ? args : args.slice(0, firstOption);
  const options = firstOption < 0 ? [] : args.slice(firstOption);
  const unknown = wanted.filter((name) => !(name in SECTIONS));
  if (unknown.length > 0) {
    console.error(`unknown bench section(s): ${unknown.join(', ')} (known: ${Object.keys(SECTIONS).join(', ')})`);
    process.exit(2);
  }
  if (options.length > 0 && !wanted.includes('client')) {
    console.error(`options ${options.join(' ')} are for the client section only`);
    process.exit(2);
  }
  const names = wanted.length > 0 ? wanted : Object.keys(SECTIONS);
  for (const [i, name] of names.entries()) {
    if (i > 0) console.log();
    console.log(`== ${name} ==`);
    await SECTIONS[name]!(name === 'client' ? options : []);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
