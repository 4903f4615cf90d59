// A small vector search service for jitgate's HTTP tests: a subset of Qdrant's REST API on
// @orama/orama, faithful enough that the unmodified @qdrant/js-client-rest works against it.
//
//   node tests/peers/vector_store.mjs [--host 127.0.0.1] [--port 0] [--data kb.json]
//        [--api-key K] [--tls-cert crt --tls-key key] [--gzip] [--stream-delay-ms 20] [--quiet]
//
// Prints `listening <port>` on stdout once it accepts connections (port 0 picks a free one).
// Qdrant endpoints (responses are {result, status: "ok", time}; errors {status: {error}, time}):
//   GET /  GET /healthz  GET /collections  GET|PUT|DELETE /collections/{c}
//   GET /collections/{c}/exists  PUT /collections/{c}/points (upsert)
//   POST /collections/{c}/points (retrieve)  GET /collections/{c}/points/{id}
//   POST /collections/{c}/points/search | /points/query | /points/scroll
// Not Qdrant, for streaming-masking tests (one point per line/event, `delay_ms` apart;
// ?delay_ms=N overrides --stream-delay-ms, ?limit=N stops early):
//   GET /collections/{c}/points/export  application/x-ndjson, one JSON point per line
//   GET /collections/{c}/events         text/event-stream, `event: point` with data: JSON point,
//                                       then `event: end` with data: {"count": n}
// --api-key: every request needs header `api-key: K` (or Authorization: Bearer K), else 401.
// --gzip: responses are gzip-compressed when the request's Accept-Encoding allows gzip.
// Each request is logged on stderr as `METHOD URL STATUS [gzip]` (--quiet: not at all).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';

import { Collection, InputError, checkPointId, renderPoint } from './collection.mjs';

const kMaxBody = 8 << 20;
const kVersion = '1.18.0'; // the client's version: its compatibility check then passes
const kTitle = 'jitgate test vector store (Qdrant REST subset)';

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const { values: opts } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    data: { type: 'string' },
    'api-key': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    gzip: { type: 'boolean', default: false },
    'stream-delay-ms': { type: 'string', default: '20' },
    quiet: { type: 'boolean', default: false },
  },
});

const collections = new Map();

function load(path) {
  const kb = JSON.parse(readFileSync(path, 'utf8'));
  for (const [name, spec] of Object.entries(kb.collections)) {
    const collection = new Collection(name, spec.vectors);
    collection.upsert(spec.points ?? []);
    collections.set(name, collection);
  }
}

const named = (name) => ({ name });

function collectionOf(name) {
  const collection = collections.get(name);
  if (!collection) {
    throw new HttpError(404, `Not found: Collection \`${name}\` doesn't exist!`);
  }
  return collection;
}

// ---- responses --------------------------------------------------------------------------------

function wantsGzip(req) {
  return opts.gzip && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
}

function send(req, res, status, body) {
  let data = Buffer.from(JSON.stringify(body));
  const headers = { 'content-type': 'application/json' };
  if (wantsGzip(req)) {
    data = zlib.gzipSync(data);
    headers['content-encoding'] = 'gzip';
    headers.vary = 'accept-encoding';
  }
  headers['content-length'] = data.length;
  writeHead(res, status, headers);
  res.end(data);
}

// setHeader, unlike writeHead's argument, keeps the headers readable for the request log.
function writeHead(res, status, headers) {
  for (const [name, value] of Object.entries(headers)) {
    res.setHeader(name, value);
  }
  res.writeHead(status);
}

const elapsed = (started) => Number(process.hrtime.bigint() - started) / 1e9;

function ok(req, res, started, result) {
  send(req, res, 200, { result, status: 'ok', time: elapsed(started) });
}

function fail(req, res, started, status, message) {
  send(req, res, status, { status: { error: message }, time: elapsed(started) });
}

// ---- requests ---------------------------------------------------------------------------------

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let size = 0;
    req.on('data', (part) => {
      size += part.length;
      if (size > kMaxBody) {
        reject(new HttpError(413, 'Payload too large'));
        req.destroy();
        return;
      }
      parts.push(part);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

async function jsonBody(req) {
  const raw = await readBody(req);
  if (raw.length === 0) {
    return {};
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `Format error in JSON body: ${err.message}`);
  }
}

function authorized(req) {
  const key = opts['api-key'];
  if (key === undefined) {
    return true;
  }
  const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
  return req.headers['api-key'] === key || (bearer !== null && bearer[1] === key);
}

// ---- Qdrant handlers --------------------------------------------------------------------------

const points = (c) => `^/collections/(?<c>[^/]+)/points${c}$`;

function searchPoints(collection, body) {
  const vector = Array.isArray(body.vector) ? body.vector : body.vector?.vector;
  const hits = collection.nearest(vector, {
    limit: body.limit ?? 10,
    offset: body.offset ?? 0,
    filter: body.filter,
    threshold: body.score_threshold,
  });
  const view = { withPayload: body.with_payload ?? false, withVector: body.with_vector ?? false };
  return hits.map(({ point, score }) => renderPoint(point, { ...view, score }));
}

// The vector of a Query API `query`: a vector, {nearest: vector}, or the id of a stored point.
function queryVector(collection, query) {
  const nearest = query?.nearest ?? query;
  if (Array.isArray(nearest)) {
    return nearest;
  }
  const point = collection.get(nearest);
  if (!point) {
    throw new HttpError(404, `Not found: No point with id ${nearest} found`);
  }
  return point.vector;
}

function queryPoints(collection, body) {
  const view = { withPayload: body.with_payload ?? false, withVector: body.with_vector ?? false };
  const limit = body.limit ?? 10;
  const offset = body.offset ?? 0;
  if (body.query === undefined || body.query === null) {
    const found = collection.all(body.filter).slice(offset, offset + limit);
    return { points: found.map((p) => renderPoint(p, view)) };
  }
  const vector = queryVector(collection, body.query);
  const hits = collection.nearest(vector, {
    limit,
    offset,
    filter: body.filter,
    threshold: body.score_threshold,
  });
  return { points: hits.map(({ point, score }) => renderPoint(point, { ...view, score })) };
}

function scrollPoints(collection, body) {
  const all = collection.all(body.filter);
  const limit = body.limit ?? 10;
  let start = 0;
  if (body.offset !== undefined && body.offset !== null) {
    const from = checkPointId(body.offset);
    start = all.findIndex((p) => p.id === from);
    start = start < 0 ? all.length : start;
  }
  const page = all.slice(start, start + limit);
  const view = { withPayload: body.with_payload ?? true, withVector: body.with_vector ?? false };
  return {
    points: page.map((p) => renderPoint(p, view)),
    next_page_offset: all[start + limit]?.id ?? null,
  };
}

function retrievePoints(collection, body) {
  const view = { withPayload: body.with_payload ?? true, withVector: body.with_vector ?? false };
  return (body.ids ?? [])
    .map((id) => collection.get(id))
    .filter(Boolean)
    .map((p) => renderPoint(p, view));
}

function upsertPoints(collection, body, query) {
  let list = body.points;
  if (!list && body.batch) {
    const { ids, vectors, payloads } = body.batch;
    list = ids.map((id, i) => ({ id, vector: vectors[i], payload: payloads?.[i] }));
  }
  if (!Array.isArray(list)) {
    throw new InputError('Wrong input: expected `points` or `batch`');
  }
  collection.upsert(list);
  const status = query.get('wait') === 'true' ? 'completed' : 'acknowledged';
  return { operation_id: nextOperation++, status };
}

let nextOperation = 0;

function createCollection(name, body) {
  if (collections.has(name)) {
    throw new InputError(`Wrong input: Collection \`${name}\` already exists!`);
  }
  if (!/^[\w-]{1,255}$/.test(name)) {
    throw new InputError(`Wrong input: Collection name \`${name}\` is not allowed here`);
  }
  collections.set(name, new Collection(name, body.vectors ?? {}));
  return true;
}

// [method, path pattern, handler(match groups, body, query) → result]. Bodies are read for
// methods other than GET and DELETE.
const routes = [
  ['GET', '^/$', () => ({ title: kTitle, version: kVersion })],
  ['GET', '^/healthz$', () => 'healthz check passed'],
  ['GET', '^/collections$', () => ({ collections: [...collections.keys()].map(named) })],
  ['GET', '^/collections/(?<c>[^/]+)$', (g) => collectionOf(g.c).info()],
  ['PUT', '^/collections/(?<c>[^/]+)$', (g, body) => createCollection(g.c, body)],
  ['DELETE', '^/collections/(?<c>[^/]+)$', (g) => collections.delete(g.c)],
  ['GET', '^/collections/(?<c>[^/]+)/exists$', (g) => ({ exists: collections.has(g.c) })],
  ['PUT', points(''), (g, body, q) => upsertPoints(collectionOf(g.c), body, q)],
  ['POST', points(''), (g, body) => retrievePoints(collectionOf(g.c), body)],
  ['POST', points('/search'), (g, body) => searchPoints(collectionOf(g.c), body)],
  ['POST', points('/query'), (g, body) => queryPoints(collectionOf(g.c), body)],
  ['POST', points('/scroll'), (g, body) => scrollPoints(collectionOf(g.c), body)],
  ['GET', points('/(?<id>[^/]+)'), (g) => getPoint(collectionOf(g.c), g.id)],
].map(([method, pattern, handler]) => ({ method, re: new RegExp(pattern), handler }));

function getPoint(collection, rawId) {
  const id = /^\d+$/.test(rawId) ? Number(rawId) : decodeURIComponent(rawId);
  const point = collection.get(id);
  if (!point) {
    throw new HttpError(404, `Not found: No point with id ${rawId} found`);
  }
  return renderPoint(point, { withPayload: true, withVector: true });
}

// ---- streaming (not Qdrant) -------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Writes each of `frames` (strings) with a delay between them, gzip-flushed per frame if asked.
async function streamFrames(req, res, contentType, frames, delayMs) {
  const headers = { 'content-type': contentType, 'cache-control': 'no-cache' };
  let out = res;
  if (wantsGzip(req)) {
    headers['content-encoding'] = 'gzip';
    headers.vary = 'accept-encoding';
    out = zlib.createGzip();
    out.pipe(res);
  }
  writeHead(res, 200, headers);
  for (const [i, frame] of frames.entries()) {
    if (i > 0 && delayMs > 0) {
      await sleep(delayMs);
    }
    if (res.destroyed) {
      return;
    }
    out.write(frame);
    if (out !== res) {
      out.flush(zlib.constants.Z_SYNC_FLUSH);
    }
  }
  out.end();
}

function streamRoute(req, res, url) {
  const m = /^\/collections\/([^/]+)\/(points\/export|events)$/.exec(url.pathname);
  if (!m || req.method !== 'GET') {
    return false;
  }
  const collection = collectionOf(decodeURIComponent(m[1]));
  const delayMs = Number(url.searchParams.get('delay_ms') ?? opts['stream-delay-ms']);
  const limit = Number(url.searchParams.get('limit') ?? Infinity);
  const view = { withPayload: true, withVector: url.searchParams.get('with_vector') === 'true' };
  const list = collection.all().slice(0, limit).map((p) => renderPoint(p, view));
  const frames =
    m[2] === 'events'
      ? list
          .map((p, i) => `id: ${i + 1}\nevent: point\ndata: ${JSON.stringify(p)}\n\n`)
          .concat([`event: end\ndata: ${JSON.stringify({ count: list.length })}\n\n`])
      : list.map((p) => JSON.stringify(p) + '\n');
  const type = m[2] === 'events' ? 'text/event-stream' : 'application/x-ndjson';
  streamFrames(req, res, type, frames, delayMs).catch(() => res.destroy());
  return true;
}

// ---- server -----------------------------------------------------------------------------------

async function route(req, res, started) {
  const url = new URL(req.url, 'http://localhost');
  if (streamRoute(req, res, url)) {
    return;
  }
  const path = url.pathname.replace(/\/+$/, '') || '/';
  for (const { method, re, handler } of routes) {
    const m = re.exec(path);
    if (m && method === req.method) {
      const hasBody = method !== 'GET' && method !== 'DELETE';
      const body = hasBody ? await jsonBody(req) : {};
      const groups = Object.fromEntries(
        Object.entries(m.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)])
      );
      ok(req, res, started, handler(groups, body, url.searchParams));
      return;
    }
  }
  throw new HttpError(404, `Not found: ${req.method} ${url.pathname}`);
}

async function handle(req, res) {
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    if (!opts.quiet) {
      const encoding = res.getHeader('content-encoding') ?? '';
      process.stderr.write(`${req.method} ${req.url} ${res.statusCode} ${encoding}\n`);
    }
  });
  try {
    if (!authorized(req)) {
      throw new HttpError(401, 'Must provide an API key or an Authorization bearer token');
    }
    await route(req, res, started);
  } catch (err) {
    const status = err instanceof HttpError ? err.status : err instanceof InputError ? 400 : 500;
    if (status === 500) {
      process.stderr.write(`error: ${err.stack}\n`);
    }
    if (!res.headersSent) {
      fail(req, res, started, status, err.message);
    } else {
      res.destroy();
    }
  }
}

function main() {
  if (opts.data) {
    load(opts.data);
  }
  const tls = opts['tls-cert'] !== undefined;
  const server = tls
    ? https.createServer(
        { cert: readFileSync(opts['tls-cert']), key: readFileSync(opts['tls-key']) },
        handle
      )
    : http.createServer(handle);
  server.keepAliveTimeout = 30000;
  server.listen(Number(opts.port), opts.host, () => {
    process.stdout.write(`listening ${server.address().port}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections(); // keep-alive and streaming connections end now
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
