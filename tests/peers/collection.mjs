// One collection of the test vector store: points (id, vector, payload) indexed by @orama/orama.
//
// Orama holds, per point, the vector and payload.text (when it is a string) and answers nearest
// neighbour (cosine) and full-text queries; the payloads themselves stay in a Map beside it so
// they come back exactly as stored. Payload filters (Qdrant's must/should/must_not with match,
// range and has_id) are evaluated here over the candidates. Point ids are unsigned integers or
// UUID strings, as in Qdrant. Not thread-safe (Node is single-threaded); all calls synchronous.
import { create, insert, remove, search } from '@orama/orama';

export class InputError extends Error {}

const kUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const kDistances = new Set(['Cosine', 'Dot']);

export function checkPointId(id) {
  if (Number.isSafeInteger(id) && id >= 0) {
    return id;
  }
  if (typeof id === 'string' && kUuid.test(id)) {
    return id.toLowerCase();
  }
  throw new InputError(`Wrong input: Unable to parse point id ${JSON.stringify(id)}`);
}

const keyOf = (id) => (typeof id === 'number' ? `n:${id}` : `u:${id}`);

function compareIds(a, b) {
  if (typeof a === typeof b) {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return typeof a === 'number' ? -1 : 1;
}

// The values at a dotted payload path ("a.b"); arrays along the way are flattened, as in Qdrant.
function valuesAt(payload, key) {
  let values = [payload];
  for (const part of key.split('.')) {
    values = values
      .flatMap((v) => (v && typeof v === 'object' && part in v ? [v[part]] : []))
      .flatMap((v) => (Array.isArray(v) ? v : [v]));
  }
  return values;
}

function matches(match, value) {
  if ('value' in match) {
    return value === match.value;
  }
  if ('any' in match) {
    return match.any.includes(value);
  }
  if ('except' in match) {
    return !match.except.includes(value);
  }
  throw new InputError('Wrong input: unsupported match condition');
}

function inRange(range, value) {
  return (
    typeof value === 'number' &&
    (range.gt === undefined || value > range.gt) &&
    (range.gte === undefined || value >= range.gte) &&
    (range.lt === undefined || value < range.lt) &&
    (range.lte === undefined || value <= range.lte)
  );
}

export class Collection {
  constructor(name, { size, distance = 'Cosine' } = {}) {
    if (!Number.isSafeInteger(size) || size < 1 || size > 65536) {
      throw new InputError('Wrong input: vectors.size must be a positive integer');
    }
    if (!kDistances.has(distance)) {
      throw new InputError(`Wrong input: distance ${distance} is not supported by this service`);
    }
    this.name = name;
    this.size = size;
    this.distance = distance;
    this.points = new Map();
    this.db = create({ schema: { text: 'string', embedding: `vector[${size}]` } });
  }

  info() {
    const vectors = { size: this.size, distance: this.distance };
    return {
      status: 'green',
      optimizer_status: 'ok',
      indexed_vectors_count: this.points.size,
      points_count: this.points.size,
      segments_count: 1,
      config: {
        params: { vectors, shard_number: 1, replication_factor: 1, write_consistency_factor: 1 },
        hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000 },
        optimizer_config: {},
        wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
      },
      payload_schema: {},
    };
  }

  checkVector(vector) {
    if (!Array.isArray(vector) || !vector.every((x) => typeof x === 'number')) {
      throw new InputError('Wrong input: a vector must be an array of numbers');
    }
    if (vector.length !== this.size) {
      throw new InputError(
        `Wrong input: Vector dimension error: expected dim: ${this.size}, got ${vector.length}`
      );
    }
    return vector;
  }

  upsert(points) {
    const checked = points.map((p) => ({
      id: checkPointId(p.id),
      vector: this.checkVector(p.vector),
      payload: p.payload ?? {},
    }));
    for (const point of checked) {
      const key = keyOf(point.id);
      if (this.points.has(key)) {
        remove(this.db, key);
      }
      this.points.set(key, point);
      const text = typeof point.payload.text === 'string' ? point.payload.text : '';
      insert(this.db, { id: key, text, embedding: point.vector });
    }
  }

  get(id) {
    return this.points.get(keyOf(checkPointId(id)));
  }

  // Points matching `filter`, in id order.
  all(filter) {
    const points = [...this.points.values()].filter((p) => this.test(filter, p));
    return points.sort((a, b) => compareIds(a.id, b.id));
  }

  // [{point, score}] nearest to `vector` first, filtered, from `offset`, at most `limit`.
  nearest(vector, { limit = 10, offset = 0, filter, threshold } = {}) {
    this.checkVector(vector);
    const found = search(this.db, {
      mode: 'vector',
      vector: { value: vector, property: 'embedding' },
      similarity: -1,
      limit: Math.max(this.points.size, 1),
    });
    const zero = vector.every((x) => x === 0);
    return found.hits
      .map((hit) => ({ point: this.points.get(hit.id), score: zero ? 0 : hit.score }))
      .filter(({ point }) => this.test(filter, point))
      .filter(({ score }) => threshold === undefined || score >= threshold)
      .slice(offset, offset + limit);
  }

  // Keys of the points whose payload.text has every word of `text` (Orama full-text, one search
  // per word: Orama's all-terms mode, threshold 0, misses documents that do contain them all).
  textMatches(text) {
    let keys = null;
    for (const word of String(text).toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
      const found = search(this.db, {
        term: word,
        properties: ['text'],
        limit: Math.max(this.points.size, 1),
      });
      const these = new Set(found.hits.map((hit) => hit.id));
      keys = keys === null ? these : new Set([...keys].filter((k) => these.has(k)));
    }
    return keys ?? new Set();
  }

  test(filter, point) {
    if (!filter) {
      return true;
    }
    const list = (v) => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
    const must = list(filter.must).every((c) => this.condition(c, point));
    const should = list(filter.should);
    const any = should.length === 0 || should.some((c) => this.condition(c, point));
    const none = list(filter.must_not).every((c) => !this.condition(c, point));
    return must && any && none;
  }

  condition(cond, point) {
    if (cond.must || cond.should || cond.must_not) {
      return this.test(cond, point);
    }
    if (cond.has_id) {
      return cond.has_id.map(checkPointId).some((id) => keyOf(id) === keyOf(point.id));
    }
    if (typeof cond.key !== 'string') {
      throw new InputError('Wrong input: a condition needs a key');
    }
    const values = valuesAt(point.payload, cond.key);
    if (cond.match && 'text' in cond.match) {
      return cond.key === 'text'
        ? this.textMatches(cond.match.text).has(keyOf(point.id))
        : values.some((v) => typeof v === 'string' && v.includes(cond.match.text));
    }
    if (cond.match) {
      return values.some((v) => matches(cond.match, v));
    }
    if (cond.range) {
      return values.some((v) => inRange(cond.range, v));
    }
    throw new InputError('Wrong input: unsupported filter condition');
  }
}

// A point as Qdrant returns it, with the payload and vector selected by with_payload/with_vector.
export function renderPoint(point, { withPayload, withVector, score } = {}) {
  const out = { id: point.id, version: 0 };
  if (score !== undefined) {
    out.score = score;
  }
  out.payload = selectPayload(point.payload, withPayload);
  out.vector = withVector ? point.vector : null;
  return out;
}

function selectPayload(payload, selector) {
  if (selector === true) {
    return payload;
  }
  if (!selector) {
    return null;
  }
  const include = Array.isArray(selector) ? selector : selector.include;
  const exclude = selector.exclude ?? [];
  const keys = Object.keys(payload).filter(
    (k) => (!include || include.includes(k)) && !exclude.includes(k)
  );
  return Object.fromEntries(keys.map((k) => [k, payload[k]]));
}
