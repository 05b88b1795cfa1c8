// duckdb_rows.mjs - DuckDB's reading of Parquet files, as JSON lines, for the
// end-to-end tests to compare with `streamdelta parquet cat --format jsonl`.
//
//   node duckdb_rows.mjs FILE...
//   node duckdb_rows.mjs --stats FILE...
//
// Default mode prints one line per FILE:
//   {"file": FILE, "rows": [ROW, ...]}   or   {"file": FILE, "error": "..."}
// where ROW is an object of the columns in file order, in the canonical form
// of the tests (tests/support/canon.py normalises both sides further):
//   null, true/false; integers as JSON integers (exact, also 64-bit);
//   floats as the shortest JS number text, NaN/Infinity/-Infinity as strings,
//   -0 as -0; decimals as exact numbers ("12.30"); strings as strings;
//   binary, fixed-size binary and UUID as base64; dates "YYYY-MM-DD";
//   timestamps of any unit "YYYY-MM-DD HH:MM:SS[.ffffff]" UTC (nanoseconds
//   floored to microseconds, the resolution streamdelta keeps); lists as
//   arrays; structs as objects; maps as objects keyed by the key's text.
//
// --stats prints, per FILE, DuckDB's parquet_metadata() as
//   {"file": FILE, "columns": [{"path": "a.b", "row_group": 0, "min": ...,
//     "max": ..., "null_count": N, "compression": "SNAPPY", "encodings": "..."}]}
// One process for all files: DuckDB's start-up is paid once. Hive
// partitioning is off: columns come from the file alone, never from
// `key=value` directories of its path (Delta tables have those).
import { DuckDBInstance } from './node_modules/@duckdb/node-api/lib/index.js';
import * as V from './node_modules/@duckdb/node-api/lib/values/index.js';

const lit = (s) => `'${s.replaceAll("'", "''")}'`;
const pad = (n, w) => String(n).padStart(w, '0');

// Floor division for BigInt (BigInt's / truncates toward zero).
function floorDiv(a, b) {
    const q = a / b;
    return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}

// Proleptic Gregorian civil date from days since 1970-01-01 (Hinnant).
function civil(days) {
    let z = days + 719468;
    const era = Math.floor(z / 146097);
    const doe = z - era * 146097;
    const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    const mp = Math.floor((5 * doy + 2) / 153);
    const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
    const m = mp < 10 ? mp + 3 : mp - 9;
    const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    return `${y >= 0 && y <= 9999 ? pad(y, 4) : y}-${pad(m, 2)}-${pad(d, 2)}`;
}

function timestampText(micros) {
    const secs = floorDiv(micros, 1000000n);
    const frac = micros - secs * 1000000n;
    const days = floorDiv(secs, 86400n);
    const sod = Number(secs - days * 86400n);
    let s = `${civil(Number(days))} ${pad(Math.floor(sod / 3600), 2)}:${pad(Math.floor(sod / 60) % 60, 2)}:${pad(sod % 60, 2)}`;
    if (frac !== 0n) s += '.' + pad(frac, 6);
    return s;
}

function numberText(v) {
    if (Number.isNaN(v)) return '"NaN"';
    if (v === Infinity) return '"Infinity"';
    if (v === -Infinity) return '"-Infinity"';
    if (Object.is(v, -0)) return '-0';
    return String(v);
}

function uuidBase64(u) {
    const bytes = Buffer.alloc(16);
    let x = u.toUint128();
    for (let i = 15; i >= 0; i--) {
        bytes[i] = Number(x & 0xffn);
        x >>= 8n;
    }
    return bytes.toString('base64');
}

// The text of a map key: strings as themselves, anything else as its JSON.
function keyText(v) {
    return typeof v === 'string' ? v : JSON.parse(toJson(v)).toString();
}

// One value as canonical JSON text.
function toJson(v) {
    if (v === null || v === undefined) return 'null';
    switch (typeof v) {
        case 'boolean': return v ? 'true' : 'false';
        case 'number': return numberText(v);
        case 'bigint': return v.toString();
        case 'string': return JSON.stringify(v);
    }
    if (v instanceof V.DuckDBDecimalValue) return v.toString();
    if (v instanceof V.DuckDBDateValue) return JSON.stringify(v.isFinite ? civil(v.days) : v.toString());
    if (v instanceof V.DuckDBTimestampValue || v instanceof V.DuckDBTimestampTZValue)
        return JSON.stringify(v.isFinite ? timestampText(v.micros) : v.toString());
    if (v instanceof V.DuckDBTimestampMillisecondsValue) return JSON.stringify(timestampText(v.millis * 1000n));
    if (v instanceof V.DuckDBTimestampSecondsValue) return JSON.stringify(timestampText(v.seconds * 1000000n));
    if (v instanceof V.DuckDBTimestampNanosecondsValue) return JSON.stringify(timestampText(floorDiv(v.nanos, 1000n)));
    if (v instanceof V.DuckDBBlobValue) return JSON.stringify(Buffer.from(v.bytes).toString('base64'));
    if (v instanceof V.DuckDBUUIDValue) return JSON.stringify(uuidBase64(v));
    if (v instanceof V.DuckDBListValue || v instanceof V.DuckDBArrayValue)
        return '[' + v.items.map(toJson).join(',') + ']';
    if (v instanceof V.DuckDBStructValue)
        return '{' + Object.entries(v.entries).map(([k, x]) => JSON.stringify(k) + ':' + toJson(x)).join(',') + '}';
    if (v instanceof V.DuckDBMapValue)
        return '{' + v.entries.map((e) => JSON.stringify(keyText(e.key)) + ':' + toJson(e.value)).join(',') + '}';
    return JSON.stringify(v.toString());
}

async function rows(con, file) {
    const reader = await con.runAndReadAll(`SELECT * FROM read_parquet(${lit(file)}, hive_partitioning = false)`);
    const names = reader.columnNames();
    return reader.getRows().map(
        (row) => '{' + row.map((v, i) => JSON.stringify(names[i]) + ':' + toJson(v)).join(',') + '}');
}

async function stats(con, file) {
    const reader = await con.runAndReadAll(
        `SELECT path_in_schema, row_group_id, stats_min_value, stats_max_value, stats_null_count,
                compression, encodings
         FROM parquet_metadata(${lit(file)}) ORDER BY row_group_id, column_id`);
    return reader.getRows().map((r) => JSON.stringify({
        path: String(r[0]).replaceAll(', ', '.'),
        row_group: Number(r[1]),
        min: r[2] === null ? null : String(r[2]),
        max: r[3] === null ? null : String(r[3]),
        null_count: r[4] === null ? null : Number(r[4]),
        compression: String(r[5]),
        encodings: String(r[6]),
    }));
}

const args = process.argv.slice(2);
const statsMode = args[0] === '--stats';
const files = statsMode ? args.slice(1) : args;
if (files.length === 0) {
    console.error('usage: duckdb_rows.mjs [--stats] FILE...');
    process.exit(2);
}
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
await con.run('SET threads = 1');
for (const file of files) {
    let line;
    try {
        const items = statsMode ? await stats(con, file) : await rows(con, file);
        line = `{"file":${JSON.stringify(file)},"${statsMode ? 'columns' : 'rows'}":[${items.join(',')}]}`;
    } catch (e) {
        line = JSON.stringify({ file, error: String(e.message || e) });
    }
    process.stdout.write(line + '\n');
}
