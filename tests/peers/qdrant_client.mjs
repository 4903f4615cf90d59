// A command-line client built on the official, unmodified @qdrant/js-client-rest QdrantClient,
// for tests and the demo that talk to a Qdrant-speaking service directly or through jitgate.
//
//   node tests/peers/qdrant_client.mjs --url https://127.0.0.1:8443/kb-search --api-key TOKEN
//        [--ca ca.crt] [--header 'Name: value']... COMMAND [ARGS]
//   COMMAND: collections
//            search   --collection docs (--text "refund policy" | --vector '[...]') [--limit 5]
//                     [--filter '{"must": [...]}'] [--with-vector]
//            query    --collection docs (--text T | --vector V | --id N) [--limit 5] [--filter F]
//            retrieve --collection docs --ids 1,2
//            scroll   --collection docs [--limit 10] [--filter F]
//
// Prints the call's result as one line of JSON on stdout. An HTTP error prints `HTTP <status>`
// and the body on stderr and exits 2; any other failure exits 1. Texts become query vectors with
// embed.mjs (the same toy embedder as kb.json and tests/e2e/embed.py).
//
// Two things about the client this works around, both without changing it:
// - QdrantClient ignores the path of `url` (it keeps scheme, host and port only, and takes 6333
//   when the URL names no port); a path prefix must go in the `prefix` option. This splits
//   --url into origin, explicit port and prefix.
// - Its fetch goes through its own undici Agent with no TLS options, so a private CA can only
//   come from Node's NODE_EXTRA_CA_CERTS, which is read at process start: with --ca, the CLI
//   runs itself again with that variable set.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { QdrantClient } from '@qdrant/js-client-rest';

import { embed } from './embed.mjs';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' },
    'api-key': { type: 'string' },
    ca: { type: 'string' },
    header: { type: 'string', multiple: true, default: [] },
    timeout: { type: 'string', default: '30' },
    collection: { type: 'string', default: 'docs' },
    text: { type: 'string' },
    vector: { type: 'string' },
    id: { type: 'string' },
    ids: { type: 'string' },
    limit: { type: 'string' },
    filter: { type: 'string' },
    'with-vector': { type: 'boolean', default: false },
  },
});

function usage(message) {
  process.stderr.write(`qdrant_client: ${message}\n`);
  process.exit(1);
}

// Re-runs this process with NODE_EXTRA_CA_CERTS=--ca unless it already has it; returns if so.
function ensureCa() {
  if (!opts.ca) {
    return;
  }
  const ca = resolve(opts.ca);
  if (process.env.NODE_EXTRA_CA_CERTS === ca) {
    return;
  }
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: ca };
  const run = spawnSync(process.execPath, process.argv.slice(1), { stdio: 'inherit', env });
  process.exit(run.status ?? 1);
}

function makeClient() {
  if (!opts.url) {
    usage('--url is required');
  }
  const url = new URL(opts.url);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const prefix = url.pathname.replace(/\/+$/, '');
  const headers = {};
  for (const h of opts.header) {
    const at = h.indexOf(':');
    if (at < 1) {
      usage(`--header wants 'Name: value', not ${h}`);
    }
    headers[h.slice(0, at).trim()] = h.slice(at + 1).trim();
  }
  return new QdrantClient({
    url: `${url.protocol}//${url.host.replace(/:\d+$/, '')}:${port}`,
    prefix: prefix || undefined,
    port,
    apiKey: opts['api-key'],
    headers,
    timeout: Number(opts.timeout) * 1000,
    checkCompatibility: false,
  });
}

function queryVector() {
  if (opts.text !== undefined) {
    return embed(opts.text);
  }
  if (opts.vector !== undefined) {
    return JSON.parse(opts.vector);
  }
  usage('give --text or --vector');
}

const limit = () => (opts.limit === undefined ? undefined : Number(opts.limit));
const filter = () => (opts.filter === undefined ? undefined : JSON.parse(opts.filter));
const pointId = (s) => (/^\d+$/.test(s) ? Number(s) : s);

const commands = {
  collections: (client) => client.getCollections(),
  search: (client) =>
    client.search(opts.collection, {
      vector: queryVector(),
      limit: limit(),
      filter: filter(),
      with_payload: true,
      with_vector: opts['with-vector'],
    }),
  query: (client) =>
    client.query(opts.collection, {
      query: opts.id !== undefined ? pointId(opts.id) : queryVector(),
      limit: limit(),
      filter: filter(),
      with_payload: true,
      with_vector: opts['with-vector'],
    }),
  retrieve: (client) => {
    if (!opts.ids) {
      usage('retrieve needs --ids');
    }
    const ids = opts.ids.split(',').map(pointId);
    return client.retrieve(opts.collection, { ids, with_payload: true });
  },
  scroll: (client) =>
    client.scroll(opts.collection, { limit: limit(), filter: filter(), with_payload: true }),
};

async function main() {
  ensureCa();
  const command = commands[positionals[0]];
  if (!command || positionals.length !== 1) {
    usage(`one command of: ${Object.keys(commands).join(', ')}`);
  }
  try {
    const result = await command(makeClient());
    process.stdout.write(JSON.stringify(result) + '\n');
  } catch (err) {
    if (typeof err?.status === 'number') {
      const body = typeof err.data === 'string' ? err.data : JSON.stringify(err.data ?? null);
      process.stderr.write(`HTTP ${err.status}\n${body}\n`);
      process.exit(2);
    }
    const cause = err?.cause ? ` (${err.cause.code ?? ''} ${err.cause.message ?? err.cause})` : '';
    process.stderr.write(`qdrant_client: ${err?.message ?? err}${cause}\n`);
    process.exit(1);
  }
}

await main();
