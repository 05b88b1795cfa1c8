// duckdb_parquet.mjs - DuckDB's side of the Parquet benchmark (make bench).
//
//   node duckdb_parquet.mjs write IN.parquet CODEC OUT.parquet THREADS
//   node duckdb_parquet.mjs read FILE THREADS
//
// write: loads IN into an in-memory table (not timed), then times
//        COPY ... TO OUT (FORMAT parquet, COMPRESSION CODEC).
// read:  times the same aggregate pq_bench computes, which decodes every
//        value of every column.
// Prints one line: "write ROWS SECONDS BYTES" / "read ROWS SECONDS ...".
import { DuckDBInstance } from '../tests/support/node_modules/@duckdb/node-api/lib/index.js';
import { statSync } from 'node:fs';

const [mode, a, b, c, d] = process.argv.slice(2);
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const q = (sql) => con.runAndReadAll(sql);
const lit = (s) => `'${s.replaceAll("'", "''")}'`;

if (mode === 'write') {
    await q(`SET threads = ${Number(d)}`);
    await q(`CREATE TABLE t AS SELECT * FROM read_parquet(${lit(a)})`);
    const rows = (await q('SELECT count(*) FROM t')).getRows()[0][0];
    const t0 = performance.now();
    await q(`COPY t TO ${lit(c)} (FORMAT parquet, COMPRESSION ${b})`);
    const secs = (performance.now() - t0) / 1000;
    console.log(`write ${rows} ${secs.toFixed(3)} ${statSync(c).size}`);
} else if (mode === 'read') {
    await q(`SET threads = ${Number(b)}`);
    const t0 = performance.now();
    const r = await q(`SELECT count(*), min(event_id), max(user_id), max(movie_id), sum(rating),
                              count_if(is_approved), sum(rating_timestamp), max(rating_date)
                       FROM read_parquet(${lit(a)})`);
    const secs = (performance.now() - t0) / 1000;
    const row = r.getRows()[0];
    console.log(`read ${row[0]} ${secs.toFixed(3)} approved=${row[5]}`);
} else {
    console.error('usage: duckdb_parquet.mjs write IN CODEC OUT THREADS | read FILE THREADS');
    process.exit(2);
}
