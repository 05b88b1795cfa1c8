// duckdb_delta.mjs - DuckDB's side of the Delta benchmark (make bench,
// section "delta"): the Delta log replay of tests/support/delta_replay.mjs
// (PROTOCOL.md in DuckDB SQL), timed on the tables bench/delta_bench made.
//
//   node duckdb_delta.mjs replay TABLE THREADS [RUNS]
//   node duckdb_delta.mjs csv TABLE THREADS OUT
//
// replay: times the log replay to the list of live files - the newest
//         checkpoint (read_parquet) when there is one, then the commits
//         after it (read_json_objects), reconciled by path - the best of
//         RUNS (default 3). Prints "replay FILES SECONDS VERSION".
// csv:    times the replay plus reading every live file (read_parquet) and
//         writing its rows as CSV with a header (COPY ... TO OUT, FORMAT
//         csv; OUT may be /dev/null) - what `streamdelta show TABLE
//         --format csv --limit 0` does. Prints "csv ROWS SECONDS FILES".
// Columns come out in the table schema's order; partition columns (if any)
// are taken from the log's partitionValues, as delta_replay.mjs does.
import { DuckDBInstance } from '../tests/support/node_modules/@duckdb/node-api/lib/index.js';
import { logFiles, replayLog } from '../tests/support/delta_replay.mjs';

const [mode, table, threadsArg, extra] = process.argv.slice(2);
const lit = (s) => `'${String(s).replaceAll("'", "''")}'`;
const ident = (s) => `"${String(s).replaceAll('"', '""')}"`;

async function session(threads) {
    const inst = await DuckDBInstance.create(':memory:');
    const con = await inst.connect();
    await con.run(`SET threads = ${Number(threads)}; SET TimeZone = 'UTC'`);
    return con;
}

// The replay of delta_replay.mjs: leaves the live files in temp table `live`.
async function replay(con) {
    const lf = await logFiles(con, table, null);
    const { metadata } = await replayLog(con, table, lf);
    const n = (await con.runAndReadAll('SELECT count(*) FROM live')).getRows()[0][0];
    return { lf, metadata, files: Number(n) };
}

// SELECT of the table's rows over the live files, in schema order.
async function rowsQuery(con, metadata) {
    const schema = JSON.parse(metadata.schemaString);
    const pcols = metadata.partitionColumns ?? [];
    const list = (await con.runAndReadAll('SELECT abs_path FROM live ORDER BY path')).getRows().map((r) => lit(r[0]));
    if (!list.length) throw new Error(`${table}: no live files`);
    const src = `read_parquet([${list.join(',')}], filename = true, hive_partitioning = false)`;
    const cols = schema.fields.map((f) => {
        if (!pcols.includes(f.name)) return `d.${ident(f.name)}`;
        if (typeof f.type !== 'string') throw new Error(`partition column ${f.name} of nested type`);
        // The log's partition value text, cast by DuckDB's rules (the
        // benchmark table is unpartitioned; this keeps the query honest
        // for others).
        return `CAST(nullif(json_extract_string(l.pv, ${lit('$."' + f.name + '"')}), '') AS ${f.type === 'string' ? 'VARCHAR' : f.type.toUpperCase()}) AS ${ident(f.name)}`;
    });
    const join = pcols.length ? ' JOIN live l ON d.filename = l.abs_path' : '';
    return `SELECT ${cols.join(', ')} FROM ${src} d${join}`;
}

if (mode === 'replay' && table && threadsArg) {
    const runs = extra ? Number(extra) : 3;
    let best = Infinity, files = 0, version = 0n;
    for (let i = 0; i < runs; i++) {
        const con = await session(threadsArg);
        const t0 = performance.now();
        const r = await replay(con);
        const secs = (performance.now() - t0) / 1000;
        if (secs < best) best = secs;
        files = r.files;
        version = r.lf.version;
        con.closeSync?.();
    }
    console.log(`replay ${files} ${best.toFixed(3)} ${version}`);
} else if (mode === 'csv' && table && threadsArg && extra) {
    const con = await session(threadsArg);
    const t0 = performance.now();
    const { metadata, files } = await replay(con);
    const sql = await rowsQuery(con, metadata);
    const r = await con.runAndReadAll(`COPY (${sql}) TO ${lit(extra)} (FORMAT csv, HEADER true)`);
    const secs = (performance.now() - t0) / 1000;
    console.log(`csv ${r.rowsChanged} ${secs.toFixed(3)} ${files}`);
} else {
    console.error('usage: duckdb_delta.mjs replay TABLE THREADS [RUNS] | csv TABLE THREADS OUT');
    process.exit(2);
}
