// delta_replay.mjs - an independent reading of a Delta table: the log replay
// of PROTOCOL.md written in DuckDB SQL, for tests/e2e/test_delta_tables.py
// to compare with `streamdelta show`. Nothing here uses streamdelta.
//
//   node delta_replay.mjs TABLE[@VERSION]...      rows of each table
//   node delta_replay.mjs --describe FILE...      DESCRIBE of read_parquet(FILE)
//
// One line per argument:
//   {"table": T, "version": V, "schema": SCHEMA_STRING_JSON, "partition_columns": [...],
//    "protocol": {...}, "files": [{"path": P, "dv": bool, "partition_values": {...}}],
//    "rows": [ROW, ...]}                       or {"table": T, "error": "..."}
//   {"file": F, "columns": [{"name": N, "type": DUCKDB_TYPE}]}
//
// The replay, all in SQL:
//   1. the newest complete checkpoint (single or multi-part) at or before
//      the version, from the names in _delta_log (glob());
//   2. its add/remove/metaData/protocol structs (read_parquet) and every
//      commit after it up to the version (read_json_objects, one object
//      per line; the version comes from the file name);
//   3. file actions reconciled by (path, deletion vector id): the newest
//      action wins, an add beats a remove of the same version; live files
//      are those whose winning action is an add;
//   4. the live files read with read_parquet (hive_partitioning off), the
//      partition columns taken from the log's partitionValues and cast to
//      the schema's types - never from directory names.
// Deletion vectors are NOT applied (DuckDB has no reader for them): "files"
// says which live files carry one, and the test accounts for them.
//
// Row values: null, booleans, integers (exact), floats as JS number text
// (NaN/Infinity as strings), decimals exact, strings, binary as base64,
// dates "YYYY-MM-DD", timestamps "YYYY-MM-DD HH:MM:SS[.ffffff]" UTC, lists,
// structs and maps (keyed by the key's text) as JSON.
import { DuckDBInstance } from './node_modules/@duckdb/node-api/lib/index.js';
import * as V from './node_modules/@duckdb/node-api/lib/values/index.js';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const q = (s) => `'${String(s).replaceAll("'", "''")}'`;
const ident = (s) => `"${String(s).replaceAll('"', '""')}"`;
const pad = (n, w) => String(n).padStart(w, '0');

// ---------------------------------------------------------------------------
// Values to canonical JSON text
// ---------------------------------------------------------------------------

function civil(days) {
    // Proleptic Gregorian date of a day number (days since 1970-01-01).
    const d = new Date(Number(days) * 86400000);
    const y = d.getUTCFullYear();
    return `${y >= 0 && y <= 9999 ? pad(y, 4) : y}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

function tsText(micros) {
    let secs = micros / 1000000n;
    let frac = micros % 1000000n;
    if (frac < 0n) {
        frac += 1000000n;
        secs -= 1n;
    }
    let days = secs / 86400n;
    let sod = secs % 86400n;
    if (sod < 0n) {
        sod += 86400n;
        days -= 1n;
    }
    const s = Number(sod);
    let out = `${civil(days)} ${pad(Math.floor(s / 3600), 2)}:${pad(Math.floor(s / 60) % 60, 2)}:${pad(s % 60, 2)}`;
    if (frac !== 0n) out += '.' + pad(frac, 6);
    return out;
}

function num(v) {
    if (Number.isNaN(v)) return '"NaN"';
    if (v === Infinity) return '"Infinity"';
    if (v === -Infinity) return '"-Infinity"';
    return Object.is(v, -0) ? '-0' : String(v);
}

function js(v) {
    if (v === null || v === undefined) return 'null';
    switch (typeof v) {
        case 'boolean': return String(v);
        case 'number': return num(v);
        case 'bigint': return v.toString();
        case 'string': return JSON.stringify(v);
    }
    if (v instanceof V.DuckDBDecimalValue) return v.toString();
    if (v instanceof V.DuckDBDateValue) return JSON.stringify(civil(v.days));
    if (v instanceof V.DuckDBTimestampValue || v instanceof V.DuckDBTimestampTZValue)
        return JSON.stringify(tsText(v.micros));
    if (v instanceof V.DuckDBTimestampMillisecondsValue) return JSON.stringify(tsText(v.millis * 1000n));
    if (v instanceof V.DuckDBTimestampSecondsValue) return JSON.stringify(tsText(v.seconds * 1000000n));
    if (v instanceof V.DuckDBTimestampNanosecondsValue) {
        let m = v.nanos / 1000n;
        if (v.nanos % 1000n < 0n) m -= 1n;
        return JSON.stringify(tsText(m));
    }
    if (v instanceof V.DuckDBBlobValue) return JSON.stringify(Buffer.from(v.bytes).toString('base64'));
    if (v instanceof V.DuckDBListValue || v instanceof V.DuckDBArrayValue) return '[' + v.items.map(js).join(',') + ']';
    if (v instanceof V.DuckDBStructValue)
        return '{' + Object.entries(v.entries).map(([k, x]) => JSON.stringify(k) + ':' + js(x)).join(',') + '}';
    if (v instanceof V.DuckDBMapValue)
        return '{' + v.entries.map((e) => {
            const k = typeof e.key === 'string' ? e.key : String(JSON.parse(js(e.key)));
            return JSON.stringify(k) + ':' + js(e.value);
        }).join(',') + '}';
    return JSON.stringify(v.toString());
}

// ---------------------------------------------------------------------------
// Spark schema types as DuckDB types (for partition value casts)
// ---------------------------------------------------------------------------

function duckType(t) {
    if (typeof t !== 'string') throw new Error(`partition column of nested type ${JSON.stringify(t)}`);
    const dec = /^decimal\((\d+),\s*(\d+)\)$/.exec(t);
    if (dec) return `DECIMAL(${dec[1]},${dec[2]})`;
    const map = {
        string: 'VARCHAR', long: 'BIGINT', integer: 'INTEGER', short: 'SMALLINT', byte: 'TINYINT',
        float: 'FLOAT', double: 'DOUBLE', boolean: 'BOOLEAN', date: 'DATE', binary: 'BLOB',
        timestamp: 'TIMESTAMPTZ', timestamp_ntz: 'TIMESTAMP',
    };
    if (!(t in map)) throw new Error(`unknown partition column type ${t}`);
    return map[t];
}

// ---------------------------------------------------------------------------
// The replay
// ---------------------------------------------------------------------------

async function all(con, sql) {
    const r = await con.runAndReadAll(sql);
    const names = r.columnNames();
    return r.getRows().map((row) => Object.fromEntries(row.map((v, i) => [names[i], v])));
}

// Step 1: commit versions and the checkpoint to start from.
export async function logFiles(con, table, version) {
    const log = `${table}/_delta_log`;
    const commits = await all(con, `
        SELECT CAST(regexp_extract(file, '(\\d{20})\\.json$', 1) AS BIGINT) AS v, file
        FROM glob(${q(log + '/*.json')})
        WHERE regexp_matches(file, '/\\d{20}\\.json$') ORDER BY v`);
    const target = version ?? (commits.length ? commits[commits.length - 1].v : null);
    // Checkpoint parts: N.checkpoint.parquet or N.checkpoint.P.T.parquet;
    // complete when all T parts exist.
    const cps = await all(con, `
        WITH f AS (
          SELECT file,
                 CAST(regexp_extract(file, '/(\\d{20})\\.checkpoint', 1) AS BIGINT) AS v,
                 coalesce(TRY_CAST(regexp_extract(file, '\\.checkpoint\\.\\d{10}\\.(\\d{10})\\.parquet$', 1) AS INT), 1) AS parts
          FROM glob(${q(log + '/*.checkpoint*.parquet')})
          WHERE regexp_matches(file, '/\\d{20}\\.checkpoint(\\.\\d{10}\\.\\d{10})?\\.parquet$'))
        SELECT v, list(file ORDER BY file) AS files FROM f
        GROUP BY v, parts HAVING count(*) = parts ORDER BY v DESC`);
    const tgt = target === null ? null : BigInt(target);
    const cp = cps.find((c) => tgt === null || c.v <= tgt) ?? null;
    if (tgt === null && cp === null) throw new Error(`${table}: no Delta log (no commit, no checkpoint)`);
    const version_ = tgt ?? cp.v;
    const start = cp ? cp.v : -1n;
    const files = commits.filter((c) => c.v > start && c.v <= version_);
    // A gap in the commit sequence is a broken table, not an empty commit.
    let expect = start + 1n;
    for (const c of files) {
        if (c.v !== expect) throw new Error(`${table}: commit ${expect} is missing`);
        expect += 1n;
    }
    if (expect - 1n !== version_) throw new Error(`${table}: version ${version_} not in the log`);
    return { version: version_, checkpoint: cp, commits: files };
}

// Steps 2-3: the actions and the reconciliation, as a temp table `live`
// plus the newest metaData and protocol.
export async function replayLog(con, table, lf) {
    const parts = [];
    if (lf.checkpoint) {
        const list = '[' + lf.checkpoint.files.items.map(q).join(',') + ']';
        for (const kind of ['add', 'remove', 'metaData', 'protocol'])
            parts.push(`SELECT ${lf.checkpoint.v}::BIGINT AS v, 0 AS line, '${kind}' AS kind, to_json(${kind}) AS j
                        FROM read_parquet(${list}, union_by_name = true) WHERE ${kind} IS NOT NULL`);
    }
    if (lf.commits.length) {
        const list = '[' + lf.commits.map((c) => q(c.file)).join(',') + ']';
        parts.push(`SELECT * FROM (
            WITH lines AS (
              SELECT CAST(regexp_extract(filename, '(\\d{20})\\.json$', 1) AS BIGINT) AS v,
                     row_number() OVER () AS line, json::JSON AS o
              FROM read_json_objects(${list}, format = 'newline_delimited', filename = true))
            SELECT v, line, k AS kind, json_extract(o, '$.' || k) AS j FROM lines,
                   (VALUES ('add'), ('remove'), ('metaData'), ('protocol')) AS t(k)
            WHERE json_type(json_extract(o, '$.' || k)) = 'OBJECT')`);
    }
    await con.run(`CREATE OR REPLACE TEMP TABLE actions AS ${parts.join(' UNION ALL ')}`);
    await con.run(`
        CREATE OR REPLACE TEMP TABLE live AS
        WITH f AS (
          SELECT v, line, kind, j,
                 json_extract_string(j, '$.path') AS path,
                 coalesce(json_extract_string(j, '$.deletionVector.storageType') ||
                          json_extract_string(j, '$.deletionVector.pathOrInlineDv') ||
                          coalesce('@' || json_extract_string(j, '$.deletionVector.offset'), ''),
                          '') AS dv_id
          FROM actions WHERE kind IN ('add', 'remove')),
        ranked AS (
          SELECT *, row_number() OVER (PARTITION BY path, dv_id
                                       ORDER BY v DESC, (kind = 'add') DESC, line DESC) AS rn
          FROM f)
        SELECT path, dv_id <> '' AS has_dv, json_extract(j, '$.partitionValues') AS pv,
               ${q(table)} || '/' || url_decode(path) AS abs_path
        FROM ranked WHERE rn = 1 AND kind = 'add'`);
    const newest = async (kind) => {
        const r = await all(con, `SELECT j::VARCHAR AS j FROM actions WHERE kind = '${kind}' ORDER BY v DESC, line DESC LIMIT 1`);
        if (!r.length) throw new Error(`${table}: no ${kind} action in the log`);
        return JSON.parse(r[0].j);
    };
    return { metadata: await newest('metaData'), protocol: await newest('protocol') };
}

// Step 4: the rows of the live files.
async function readRows(con, table, metadata) {
    const schema = JSON.parse(metadata.schemaString);
    const pcols = metadata.partitionColumns ?? [];
    const files = await all(con, `SELECT path, has_dv, pv::VARCHAR AS pv, abs_path FROM live ORDER BY path`);
    const out = files.map((f) => ({ path: f.path, dv: f.has_dv, partition_values: JSON.parse(f.pv ?? '{}') }));
    if (!files.length) return { files: out, rows: [] };
    const list = '[' + files.map((f) => q(f.abs_path)).join(',') + ']';
    const src = `read_parquet(${list}, filename = true, union_by_name = true, hive_partitioning = false)`;
    const present = new Set((await all(con, `DESCRIBE SELECT * FROM ${src}`)).map((r) => r.column_name));
    const cols = schema.fields.map((f) => {
        if (pcols.includes(f.name)) {
            const text = `nullif(json_extract_string(l.pv, ${q('$."' + f.name + '"')}), '')`;
            const t = duckType(f.type);
            // Timestamp partition values are UTC text; the session is UTC.
            const cast = t === 'TIMESTAMPTZ' ? `CAST(CAST(${text} AS TIMESTAMPTZ) AS TIMESTAMP)` : `CAST(${text} AS ${t})`;
            return `${cast} AS ${ident(f.name)}`;
        }
        return present.has(f.name) ? `d.${ident(f.name)}` : `NULL AS ${ident(f.name)}`;
    });
    const rows = await con.runAndReadAll(
        `SELECT ${cols.join(', ')} FROM ${src} d JOIN live l ON d.filename = l.abs_path`);
    const names = rows.columnNames();
    return {
        files: out,
        rows: rows.getRows().map((r) => '{' + r.map((v, i) => JSON.stringify(names[i]) + ':' + js(v)).join(',') + '}'),
    };
}

async function replay(con, spec) {
    const m = /^(.*)@(\d+)$/.exec(spec);
    const table = m ? m[1] : spec;
    const lf = await logFiles(con, table, m ? BigInt(m[2]) : null);
    const { metadata, protocol } = await replayLog(con, table, lf);
    const { files, rows } = await readRows(con, table, metadata);
    return `{"table":${JSON.stringify(table)},"version":${lf.version},` +
        `"schema":${JSON.stringify(metadata.schemaString)},` +
        `"partition_columns":${JSON.stringify(metadata.partitionColumns ?? [])},` +
        `"protocol":${JSON.stringify(protocol)},"files":${JSON.stringify(files)},` +
        `"rows":[${rows.join(',')}]}`;
}

async function describe(con, file) {
    const cols = await all(con, `DESCRIBE SELECT * FROM read_parquet(${q(file)})`);
    return JSON.stringify({ file, columns: cols.map((c) => ({ name: c.column_name, type: c.column_type })) });
}

// Run as a script (not when imported, e.g. by bench/duckdb_delta.mjs,
// which reuses logFiles and replayLog).
const isMain = process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
const args = isMain ? process.argv.slice(2) : [];
const describeMode = args[0] === '--describe';
const items = describeMode ? args.slice(1) : args;
if (isMain && !items.length) {
    console.error('usage: delta_replay.mjs TABLE[@VERSION]... | --describe FILE...');
    process.exit(2);
}
const inst = isMain ? await DuckDBInstance.create(':memory:') : null;
const con = isMain ? await inst.connect() : null;
if (isMain) await con.run("SET threads = 1; SET TimeZone = 'UTC'");
for (const item of items) {
    let line;
    try {
        line = describeMode ? await describe(con, item) : await replay(con, item);
    } catch (e) {
        line = JSON.stringify(describeMode ? { file: item, error: String(e.message || e) }
            : { table: item, error: String(e.message || e) });
    }
    process.stdout.write(line + '\n');
}
