/*
 * cli_format.c - print columnar batches as rows: a table like Spark's
 * df.show(), CSV (RFC 4180 quoting) or JSON lines. Shared by
 * `streamdelta parquet cat` and, later, `show`.
 *
 * Every cell is rendered in one of three styles:
 *   SHOW  Spark's df.show() text: structs "{a, b}", arrays "[1, 2]", maps
 *         "{k -> v}", binary "[0A FF]", null "null";
 *   JSON  a JSON value: dates and timestamps as strings, decimals as exact
 *         numbers, NaN/Infinity as strings, binary as base64, maps as
 *         objects keyed by the key's TEXT;
 *   TEXT  a primitive's plain text (CSV fields, map keys): strings raw,
 *         binary as base64, nested values as their JSON.
 *
 * The printer reuses its buffers from row to row: no allocation per row once
 * the buffers have grown to the widest row.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Spark truncates cells longer than 20 characters (UTF-16 units) to 17
 * plus "...". */
#define CLI_TRUNCATE 20
#define CLI_TRUNCATE_KEEP 17
/* Scratch buffers for map keys, one per nesting level; the reader caps the
 * nesting of a schema well below this, deeper levels fall back to a
 * temporary buffer. */
#define CLI_SCRATCH_DEPTH 32

typedef enum cli_style { CLI_STYLE_SHOW, CLI_STYLE_JSON, CLI_STYLE_TEXT } cli_style;

struct cli_printer {
    cli_format_kind kind;
    const sd_schema *schema;
    FILE *out;
    size_t limit;   /* 0 = no limit */
    size_t printed; /* rows accepted so far */
    sd_buf line;    /* csv/jsonl: the row being assembled */
    sd_buf scratch[CLI_SCRATCH_DEPTH];
    /* table: every cell's (truncated) text, cell i ends at cell_end[i] */
    sd_buf cells;
    size_t *cell_end;
    size_t ncells, cells_cap;
    size_t *width; /* per column, in characters */
};

sd_status cli_format_parse(const char *name, cli_format_kind *out, sd_error *err) {
    if (strcmp(name, "table") == 0)
        *out = CLI_FMT_TABLE;
    else if (strcmp(name, "csv") == 0)
        *out = CLI_FMT_CSV;
    else if (strcmp(name, "jsonl") == 0)
        *out = CLI_FMT_JSONL;
    else
        return sd_error_set(err, SD_ERR_ARG, "unknown format '%s' (expected table, csv or jsonl)",
                            name);
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Text helpers                                                              */
/* ------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when the bytes there
 * are not one (overlong forms, surrogates and values past U+10FFFF are
 * invalid too). */
static size_t cli_utf8_seq(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    return len;
}

/* Append `n` bytes as a JSON string. Invalid UTF-8 becomes U+FFFD so that
 * the output stays valid JSON whatever bytes a file holds. */
static void cli_json_string(sd_buf *out, const uint8_t *s, size_t n) {
    sd_buf_append_byte(out, '"');
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            sd_buf_append_byte(out, '\\');
            sd_buf_append_byte(out, c);
            i++;
        } else if (c < 0x20) {
            switch (c) {
                case '\n':
                    sd_buf_append_str(out, "\\n");
                    break;
                case '\r':
                    sd_buf_append_str(out, "\\r");
                    break;
                case '\t':
                    sd_buf_append_str(out, "\\t");
                    break;
                case '\b':
                    sd_buf_append_str(out, "\\b");
                    break;
                case '\f':
                    sd_buf_append_str(out, "\\f");
                    break;
                default:
                    sd_buf_appendf(out, "\\u%04x", c);
                    break;
            }
            i++;
        } else {
            size_t len = cli_utf8_seq(s + i, n - i);
            if (len == 0) {
                sd_buf_append_str(out, "\xEF\xBF\xBD");
                i++;
            } else {
                sd_buf_append(out, s + i, len);
                i += len;
            }
        }
    }
    sd_buf_append_byte(out, '"');
}

static void cli_base64(sd_buf *out, const uint8_t *s, size_t n) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        char q[4] = {abc[v >> 18], abc[(v >> 12) & 63], abc[(v >> 6) & 63], abc[v & 63]};
        sd_buf_append(out, q, 4);
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        char q[4] = {abc[v >> 18], abc[(v >> 12) & 63], i + 1 < n ? abc[(v >> 6) & 63] : '=', '='};
        sd_buf_append(out, q, 4);
    }
}

/* The code point at s[*i] (advancing *i); an invalid byte reads as itself. */
static uint32_t cli_next_cp(const uint8_t *s, size_t n, size_t *i) {
    size_t len = cli_utf8_seq(s + *i, n - *i);
    if (len <= 1) return s[(*i)++];
    uint32_t cp = s[*i] & (0xFF >> (len + 1));
    for (size_t k = 1; k < len; k++) cp = (cp << 6) | (s[*i + k] & 0x3F);
    *i += len;
    return cp;
}

/* Spark measures a cell in Java chars (UTF-16 units) to truncate it ... */
static size_t cli_cp_units(uint32_t cp) {
    return cp >= 0x10000 ? 2 : 1;
}

/* ... and pads it by its "half width": units plus one for each full-width
 * character (Spark's Utils.stringHalfWidth ranges), so CJK text lines up. */
static size_t cli_cp_width(uint32_t cp) {
    bool full = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                (cp >= 0xFE10 && cp <= 0xFE19) || (cp >= 0xFE30 && cp <= 0xFE6F) ||
                (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6);
    return cli_cp_units(cp) + (full ? 1 : 0);
}

static size_t cli_text_units(const uint8_t *s, size_t n) {
    size_t units = 0;
    for (size_t i = 0; i < n;) units += cli_cp_units(cli_next_cp(s, n, &i));
    return units;
}

static size_t cli_text_width(const uint8_t *s, size_t n) {
    size_t w = 0;
    for (size_t i = 0; i < n;) w += cli_cp_width(cli_next_cp(s, n, &i));
    return w;
}

/* Byte length of the longest prefix of s[0..n) within `units` UTF-16 units
 * (never splitting a character). */
static size_t cli_text_prefix(const uint8_t *s, size_t n, size_t units) {
    size_t i = 0, used = 0;
    while (i < n) {
        size_t next = i;
        size_t u = cli_cp_units(cli_next_cp(s, n, &next));
        if (used + u > units) break;
        used += u;
        i = next;
    }
    return i;
}

/* ------------------------------------------------------------------------ */
/* Rendering one value                                                       */
/* ------------------------------------------------------------------------ */

static void cli_render(cli_printer *p, const sd_column *c, size_t row, cli_style style, int depth,
                       sd_buf *out);

/* A primitive value. */
static void cli_render_scalar(const sd_column *c, size_t row, cli_style style, sd_buf *out) {
    sd_value v = sd_column_get(c, row);
    switch (v.kind) {
        case SD_STRING:
            if (style == CLI_STYLE_JSON)
                cli_json_string(out, v.u.s.ptr, v.u.s.len);
            else
                sd_buf_append(out, v.u.s.ptr, v.u.s.len);
            return;
        case SD_BINARY:
            if (style == CLI_STYLE_SHOW) {
                /* Spark's show(): "[0A FF]" */
                sd_buf_append_byte(out, '[');
                for (size_t i = 0; i < v.u.s.len; i++)
                    sd_buf_appendf(out, i ? " %02X" : "%02X", v.u.s.ptr[i]);
                sd_buf_append_byte(out, ']');
                return;
            }
            if (style == CLI_STYLE_JSON) sd_buf_append_byte(out, '"');
            cli_base64(out, v.u.s.ptr, v.u.s.len);
            if (style == CLI_STYLE_JSON) sd_buf_append_byte(out, '"');
            return;
        case SD_FLOAT:
        case SD_DOUBLE: {
            /* JSON has no NaN or infinities: those (and only those) become
             * strings; finite values stay numbers. */
            bool quote = style == CLI_STYLE_JSON && (isnan(v.u.d) || isinf(v.u.d));
            if (quote) sd_buf_append_byte(out, '"');
            size_t start = out->len;
            sd_format_value(&v, out);
            if (quote) sd_buf_append_byte(out, '"');
            /* Spark shows a whole float as "1.0", not "1". */
            if (style == CLI_STYLE_SHOW && !memchr(out->data + start, '.', out->len - start) &&
                !memchr(out->data + start, 'e', out->len - start) && !isnan(v.u.d) && !isinf(v.u.d))
                sd_buf_append_str(out, ".0");
            return;
        }
        case SD_DATE:
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ:
            if (style == CLI_STYLE_JSON) sd_buf_append_byte(out, '"');
            sd_format_value(&v, out);
            if (style == CLI_STYLE_JSON) sd_buf_append_byte(out, '"');
            return;
        default:
            sd_format_value(&v, out);
            return;
    }
}

/* Entries [*start, *end) of a list or map row in its child column(s),
 * clamped to the children's length so a malformed batch cannot make us read
 * past them. */
static void cli_list_range(const sd_column *c, size_t row, size_t *start, size_t *end) {
    size_t n = c->nchildren > 0 ? c->children[0].len : 0;
    if (c->type->kind == SD_MAP && c->nchildren > 1 && c->children[1].len < n)
        n = c->children[1].len;
    int64_t s = c->offsets[row], e = c->offsets[row + 1];
    if (s < 0) s = 0;
    if (e < s) e = s;
    *start = (size_t)s < n ? (size_t)s : n;
    *end = (size_t)e < n ? (size_t)e : n;
}

static void cli_render_struct(cli_printer *p, const sd_column *c, size_t row, cli_style style,
                              int depth, sd_buf *out) {
    bool json = style != CLI_STYLE_SHOW;
    sd_buf_append_byte(out, '{');
    for (int i = 0; i < c->nchildren && i < c->type->nchildren; i++) {
        if (i) sd_buf_append_str(out, json ? "," : ", ");
        if (json) {
            const char *name = c->type->children[i].name;
            cli_json_string(out, (const uint8_t *)name, strlen(name));
            sd_buf_append_byte(out, ':');
        }
        cli_render(p, &c->children[i], row, json ? CLI_STYLE_JSON : style, depth + 1, out);
    }
    sd_buf_append_byte(out, '}');
}

static void cli_render_list(cli_printer *p, const sd_column *c, size_t row, cli_style style,
                            int depth, sd_buf *out) {
    bool json = style != CLI_STYLE_SHOW;
    size_t start, end;
    cli_list_range(c, row, &start, &end);
    sd_buf_append_byte(out, '[');
    for (size_t i = start; i < end; i++) {
        if (i > start) sd_buf_append_str(out, json ? "," : ", ");
        cli_render(p, &c->children[0], i, json ? CLI_STYLE_JSON : style, depth + 1, out);
    }
    sd_buf_append_byte(out, ']');
}

/* JSON object keys must be strings: the key's TEXT, escaped. */
static void cli_render_map_key(cli_printer *p, const sd_column *keys, size_t i, int depth,
                               sd_buf *out) {
    sd_buf tmp = SD_BUF_INIT;
    sd_buf *text = depth < CLI_SCRATCH_DEPTH ? &p->scratch[depth] : &tmp;
    sd_buf_reset(text);
    cli_render(p, keys, i, CLI_STYLE_TEXT, depth + 1, text);
    cli_json_string(out, text->data, text->len);
    sd_buf_free(&tmp);
}

static void cli_render_map(cli_printer *p, const sd_column *c, size_t row, cli_style style,
                           int depth, sd_buf *out) {
    bool json = style != CLI_STYLE_SHOW;
    size_t start, end;
    if (c->nchildren < 2) {
        sd_buf_append_str(out, "{}");
        return;
    }
    cli_list_range(c, row, &start, &end);
    sd_buf_append_byte(out, '{');
    for (size_t i = start; i < end; i++) {
        if (i > start) sd_buf_append_str(out, json ? "," : ", ");
        if (json) {
            cli_render_map_key(p, &c->children[0], i, depth, out);
            sd_buf_append_byte(out, ':');
        } else {
            cli_render(p, &c->children[0], i, style, depth + 1, out);
            sd_buf_append_str(out, " -> ");
        }
        cli_render(p, &c->children[1], i, json ? CLI_STYLE_JSON : style, depth + 1, out);
    }
    sd_buf_append_byte(out, '}');
}

/* Append the value at `row` of `c` in `style`. */
static void cli_render(cli_printer *p, const sd_column *c, size_t row, cli_style style, int depth,
                       sd_buf *out) {
    if (row >= c->len || !sd_column_is_valid(c, row)) {
        /* TEXT of a null is an empty CSV field; SHOW and JSON spell it. */
        if (style != CLI_STYLE_TEXT) sd_buf_append_str(out, "null");
        return;
    }
    switch (c->type->kind) {
        case SD_STRUCT:
            cli_render_struct(p, c, row, style, depth, out);
            return;
        case SD_LIST:
            cli_render_list(p, c, row, style, depth, out);
            return;
        case SD_MAP:
            cli_render_map(p, c, row, style, depth, out);
            return;
        default:
            cli_render_scalar(c, row, style, out);
            return;
    }
}

/* ------------------------------------------------------------------------ */
/* CSV and JSON lines: streamed row by row                                   */
/* ------------------------------------------------------------------------ */

/* RFC 4180: quote a field holding a comma, quote or line break, doubling the
 * quotes inside. An empty string is written as "" so it differs from null. */
static void cli_csv_field(sd_buf *out, const uint8_t *s, size_t n, bool is_null) {
    bool quote = !is_null && n == 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        sd_buf_append(out, s, n);
        return;
    }
    sd_buf_append_byte(out, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') sd_buf_append_byte(out, '"');
        sd_buf_append_byte(out, s[i]);
    }
    sd_buf_append_byte(out, '"');
}

static void cli_csv_header(cli_printer *p) {
    sd_buf_reset(&p->line);
    for (int i = 0; i < p->schema->nchildren; i++) {
        if (i) sd_buf_append_byte(&p->line, ',');
        const char *name = p->schema->children[i].name;
        cli_csv_field(&p->line, (const uint8_t *)name, strlen(name), false);
    }
    sd_buf_append_byte(&p->line, '\n');
    fwrite(p->line.data, 1, p->line.len, p->out);
}

static void cli_csv_row(cli_printer *p, const sd_batch *batch, size_t row) {
    sd_buf *cell = &p->scratch[0];
    sd_buf_reset(&p->line);
    for (int i = 0; i < batch->ncols; i++) {
        const sd_column *c = &batch->cols[i];
        if (i) sd_buf_append_byte(&p->line, ',');
        sd_buf_reset(cell);
        bool is_null = row >= c->len || !sd_column_is_valid(c, row);
        cli_render(p, c, row, CLI_STYLE_TEXT, 1, cell);
        cli_csv_field(&p->line, cell->data, cell->len, is_null);
    }
    sd_buf_append_byte(&p->line, '\n');
    fwrite(p->line.data, 1, p->line.len, p->out);
}

static void cli_jsonl_row(cli_printer *p, const sd_batch *batch, size_t row) {
    sd_buf_reset(&p->line);
    sd_buf_append_byte(&p->line, '{');
    for (int i = 0; i < batch->ncols && i < p->schema->nchildren; i++) {
        if (i) sd_buf_append_byte(&p->line, ',');
        const char *name = p->schema->children[i].name;
        cli_json_string(&p->line, (const uint8_t *)name, strlen(name));
        sd_buf_append_byte(&p->line, ':');
        cli_render(p, &batch->cols[i], row, CLI_STYLE_JSON, 0, &p->line);
    }
    sd_buf_append_str(&p->line, "}\n");
    fwrite(p->line.data, 1, p->line.len, p->out);
}

/* ------------------------------------------------------------------------ */
/* Table: buffered, printed at the end when the column widths are known     */
/* ------------------------------------------------------------------------ */

/* Keep one cell's text (truncated the way Spark does) and widen its column.
 * Line breaks and tabs are shown escaped so they cannot break the grid. */
static void cli_table_add_cell(cli_printer *p, int col, const uint8_t *s, size_t n) {
    sd_buf_reserve(&p->cells, n + 3); /* also: data is never NULL below */
    size_t start = p->cells.len;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            sd_buf_append_str(&p->cells, "\\n");
        else if (s[i] == '\r')
            sd_buf_append_str(&p->cells, "\\r");
        else if (s[i] == '\t')
            sd_buf_append_str(&p->cells, "\\t");
        else
            sd_buf_append_byte(&p->cells, s[i]);
    }
    const uint8_t *text = p->cells.data + start;
    size_t len = p->cells.len - start;
    if (cli_text_units(text, len) > CLI_TRUNCATE) {
        p->cells.len = start + cli_text_prefix(text, len, CLI_TRUNCATE_KEEP);
        sd_buf_append_str(&p->cells, "...");
    }
    size_t w = cli_text_width(p->cells.data + start, p->cells.len - start);
    if (p->ncells == p->cells_cap) {
        p->cells_cap = p->cells_cap ? p->cells_cap * 2 : 256;
        p->cell_end = sd_xrealloc(p->cell_end, p->cells_cap * sizeof(size_t));
    }
    p->cell_end[p->ncells++] = p->cells.len;
    if (w > p->width[col]) p->width[col] = w;
}

static void cli_table_row(cli_printer *p, const sd_batch *batch, size_t row) {
    sd_buf *cell = &p->scratch[0];
    for (int i = 0; i < p->schema->nchildren; i++) {
        sd_buf_reset(cell);
        if (i < batch->ncols) cli_render(p, &batch->cols[i], row, CLI_STYLE_SHOW, 1, cell);
        cli_table_add_cell(p, i, cell->data, cell->len);
    }
}

static void cli_table_border(cli_printer *p) {
    int ncols = p->schema->nchildren;
    fputc('+', p->out);
    for (int i = 0; i < ncols; i++) {
        for (size_t j = 0; j < p->width[i]; j++) fputc('-', p->out);
        fputc('+', p->out);
    }
    fputc('\n', p->out);
}

/* One line of cells first..first+ncols, right-aligned as Spark does. */
static void cli_table_line(cli_printer *p, size_t first) {
    int ncols = p->schema->nchildren;
    fputc('|', p->out);
    for (int i = 0; i < ncols; i++) {
        size_t k = first + (size_t)i;
        size_t start = k ? p->cell_end[k - 1] : 0;
        const uint8_t *s = p->cells.data + start;
        size_t len = p->cell_end[k] - start;
        for (size_t pad = cli_text_width(s, len); pad < p->width[i]; pad++) fputc(' ', p->out);
        fwrite(s, 1, len, p->out);
        fputc('|', p->out);
    }
    fputc('\n', p->out);
}

static void cli_table_print(cli_printer *p, bool more) {
    size_t ncols = (size_t)p->schema->nchildren;
    size_t nrows = ncols ? p->ncells / ncols - 1 : p->printed; /* first line is the header */
    cli_table_border(p);
    cli_table_line(p, 0);
    cli_table_border(p);
    for (size_t r = 0; r < nrows && ncols; r++) cli_table_line(p, (r + 1) * ncols);
    cli_table_border(p); /* Spark closes the grid even with no rows */
    if (more) fprintf(p->out, "only showing top %zu row%s\n", nrows, nrows == 1 ? "" : "s");
}

/* ------------------------------------------------------------------------ */
/* The printer                                                               */
/* ------------------------------------------------------------------------ */

cli_printer *cli_printer_new(cli_format_kind kind, const sd_schema *schema, FILE *out,
                             size_t limit) {
    cli_printer *p = sd_xcalloc(1, sizeof(*p));
    p->kind = kind;
    p->schema = schema;
    p->out = out;
    p->limit = limit;
    if (kind == CLI_FMT_TABLE) {
        /* Spark's columns are at least 3 characters wide. */
        p->width = sd_xcalloc((size_t)schema->nchildren + 1, sizeof(size_t));
        for (int i = 0; i < schema->nchildren; i++) {
            p->width[i] = 3;
            const char *name = schema->children[i].name;
            cli_table_add_cell(p, i, (const uint8_t *)name, strlen(name));
        }
    } else if (kind == CLI_FMT_CSV) {
        cli_csv_header(p);
    }
    return p;
}

void cli_printer_add(cli_printer *p, const sd_batch *batch) {
    for (size_t row = 0; row < batch->nrows && !cli_printer_full(p); row++) {
        switch (p->kind) {
            case CLI_FMT_TABLE:
                cli_table_row(p, batch, row);
                break;
            case CLI_FMT_CSV:
                cli_csv_row(p, batch, row);
                break;
            case CLI_FMT_JSONL:
                cli_jsonl_row(p, batch, row);
                break;
        }
        p->printed++;
    }
}

bool cli_printer_full(const cli_printer *p) {
    return p->limit != 0 && p->printed >= p->limit;
}

void cli_printer_finish(cli_printer *p, bool more) {
    if (p->kind == CLI_FMT_TABLE) cli_table_print(p, more);
    fflush(p->out);
    sd_buf_free(&p->line);
    for (int i = 0; i < CLI_SCRATCH_DEPTH; i++) sd_buf_free(&p->scratch[i]);
    sd_buf_free(&p->cells);
    free(p->cell_end);
    free(p->width);
    free(p);
}
