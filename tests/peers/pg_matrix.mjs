// node-postgres (npm pg) through the gateway, for tests/e2e/test_driver_matrix.py.
//
// Usage: node pg_matrix.mjs PORT USER PASSWORD TIMES
// Runs one named prepared statement TIMES times (its parameter cycles 1, 2, 3), in binary
// results, then a second parameterized query; prints one JSON line per execution:
// {"exec": "<n>", "rows": [[id, name, email, score], ...]}. Any error ends it with status 1.
import pg from 'pg';

const [port, user, password, times] = process.argv.slice(2);

// Binary results arrive as Buffers for types the driver does not parse in binary.
function cell(v) {
  if (Buffer.isBuffer(v)) {
    return v.length === 4 ? v.readInt32BE(0) : v.toString('utf8');
  }
  return v;
}

const client = new pg.Client({
  host: '127.0.0.1',
  port: Number(port),
  database: 'kb',
  user,
  password,
  ssl: { rejectUnauthorized: false },
});
try {
  await client.connect();
  for (let i = 0; i < Number(times); ++i) {
    const r = await client.query({
      name: 'drv_customers_upto',
      text: 'SELECT id, name, email, score FROM drv_customers WHERE id <= $1 ORDER BY id',
      values: [(i % 3) + 1],
      binary: true,
    });
    // Object rows, not rowMode 'array': pg 8.23 hands binary values of array rows to the
    // parsers as strings instead of Buffers, which garbles every binary int.
    const rows = r.rows.map((row) => r.fields.map((f) => cell(row[f.name])));
    console.log(JSON.stringify({ exec: String(i), rows }));
  }
  const r = await client.query({
    text: 'SELECT email, name FROM drv_customers WHERE name = $1',
    values: ['Ada'],
    rowMode: 'array',
  });
  console.log(JSON.stringify({ exec: 'param', rows: r.rows }));
  await client.end();
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
