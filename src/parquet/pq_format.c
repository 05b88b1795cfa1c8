/*
 * pq_format.c - human-readable dumps of a Parquet file for `streamdelta
 * parquet schema|meta`: the schema as parquet-tools prints it (one line per
 * element, indented by nesting, physical type, repetition, annotation) with
 * the logical type we read it as, and the footer metadata (row groups,
 * column chunks, encodings, sizes, statistics formatted as values).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq_reader_internal.h"

static const char *pq_repetition_name(const pq_schema_element *e) {
    if (!e->has_repetition) return "REQUIRED";
    switch (e->repetition) {
        case PQ_REQUIRED:
            return "REQUIRED";
        case PQ_OPTIONAL:
            return "OPTIONAL";
        case PQ_REPEATED:
            return "REPEATED";
    }
    return "UNKNOWN";
}

static const char *pq_unit_name(pq_time_unit u) {
    return u == PQ_UNIT_MILLIS ? "MILLIS" : u == PQ_UNIT_MICROS ? "MICROS" : "NANOS";
}

/* The annotation of an element: its LogicalType, else its ConvertedType. */
static void pq_format_annotation(const pq_schema_element *e, sd_buf *out) {
    const pq_logical_type *lt = &e->logical;
    switch (lt->kind) {
        case PQ_LT_NONE:
            break;
        case PQ_LT_STRING:
            sd_buf_append_str(out, " STRING");
            return;
        case PQ_LT_MAP:
            sd_buf_append_str(out, " MAP");
            return;
        case PQ_LT_LIST:
            sd_buf_append_str(out, " LIST");
            return;
        case PQ_LT_ENUM:
            sd_buf_append_str(out, " ENUM");
            return;
        case PQ_LT_DECIMAL:
            sd_buf_appendf(out, " DECIMAL(%d,%d)", (int)lt->precision, (int)lt->scale);
            return;
        case PQ_LT_DATE:
            sd_buf_append_str(out, " DATE");
            return;
        case PQ_LT_TIME:
        case PQ_LT_TIMESTAMP:
            sd_buf_appendf(out, " %s(%s,%s)", lt->kind == PQ_LT_TIME ? "TIME" : "TIMESTAMP",
                           pq_unit_name(lt->unit), lt->is_adjusted_to_utc ? "true" : "false");
            return;
        case PQ_LT_INTEGER:
            sd_buf_appendf(out, " INTEGER(%d,%s)", (int)lt->bit_width,
                           lt->is_signed ? "true" : "false");
            return;
        case PQ_LT_UNKNOWN:
            sd_buf_append_str(out, " UNKNOWN");
            return;
        case PQ_LT_JSON:
            sd_buf_append_str(out, " JSON");
            return;
        case PQ_LT_BSON:
            sd_buf_append_str(out, " BSON");
            return;
        case PQ_LT_UUID:
            sd_buf_append_str(out, " UUID");
            return;
        case PQ_LT_FLOAT16:
            sd_buf_append_str(out, " FLOAT16");
            return;
    }
    if (e->converted_type == PQ_CT_NONE) return;
    sd_buf_appendf(out, " %s", pq_converted_type_name(e->converted_type));
    if (e->converted_type == PQ_CT_DECIMAL)
        sd_buf_appendf(out, "(%d,%d)", (int)e->precision, (int)e->scale);
}

/* elem -> the logical type it is read as, by walking the node tree beside
 * the schema's type tree (they have the same shape). */
static void pq_map_types(const pq_node *node, const sd_type *t, const sd_type **types, int ntypes) {
    for (int i = 0; i < node->nchildren && i < t->nchildren; i++) {
        const pq_node *c = &node->children[i];
        if (c->elem >= 0 && c->elem < ntypes && types[c->elem] == NULL)
            types[c->elem] = &t->children[i].type;
        pq_map_types(c, &t->children[i].type, types, ntypes);
    }
}

void pq_file_format_schema(const pq_file *f, sd_buf *out) {
    const pq_file_meta *m = pq_file_meta_of(f);
    const pq_schema_info *si = pq_file_schema_info(f);
    if (m->nschema < 1) return;
    const sd_type **types = sd_xcalloc((size_t)m->nschema, sizeof(sd_type *));
    pq_map_types(&si->root, si->schema, types, m->nschema);
    /* children left to print at each open depth */
    int left[PQ_MAX_SCHEMA_DEPTH + 2];
    int depth = 0;
    sd_buf_appendf(out, "message %s {\n", m->schema[0].name ? m->schema[0].name : "schema");
    left[0] = m->schema[0].num_children;
    for (int i = 1; i < m->nschema && depth >= 0; i++) {
        while (depth >= 0 && left[depth] == 0) depth--;
        if (depth < 0) break;
        left[depth]--;
        const pq_schema_element *e = &m->schema[i];
        for (int k = 0; k <= depth; k++) sd_buf_append_str(out, "  ");
        sd_buf_appendf(out, "%s: ", e->name ? e->name : "?");
        if (e->num_children > 0)
            sd_buf_append_str(out, "group");
        else if (e->type == PQ_FIXED_LEN_BYTE_ARRAY)
            sd_buf_appendf(out, "FIXED_LEN_BYTE_ARRAY(%d)", (int)e->type_length);
        else
            sd_buf_append_str(out, pq_physical_type_name(e->type));
        sd_buf_appendf(out, " %s", pq_repetition_name(e));
        pq_format_annotation(e, out);
        if (types[i]) {
            sd_buf_append_str(out, " -> ");
            sd_type_format(types[i], out);
        }
        sd_buf_append_byte(out, '\n');
        if (e->num_children > 0 && depth + 1 <= PQ_MAX_SCHEMA_DEPTH)
            left[++depth] = e->num_children;
    }
    sd_buf_append_str(out, "}\n");
    free((void *)types);
}

static void pq_format_stat(const pq_file *f, int rg, int leaf, sd_buf *out) {
    bool has;
    sd_value mn, mx;
    int64_t nulls;
    sd_error err = {0};
    if (pq_file_leaf_stats(f, rg, pq_file_schema_info(f)->leaves[leaf].path, &has, &mn, &mx, &nulls,
                           &err) != SD_OK)
        return;
    if (has) {
        sd_buf_append_str(out, " min=");
        sd_format_value(&mn, out);
        sd_buf_append_str(out, " max=");
        sd_format_value(&mx, out);
    }
    if (nulls >= 0) sd_buf_appendf(out, " nulls=%lld", (long long)nulls);
}

static void pq_format_chunk(const pq_file *f, int rg, int c, sd_buf *out) {
    const pq_column_meta *cm = &pq_file_meta_of(f)->row_groups[rg].columns[c].meta_data;
    const pq_leaf *leaf = &pq_file_schema_info(f)->leaves[c];
    sd_buf_appendf(out, "  %s: %s %s [", leaf->path, pq_physical_type_name(cm->type),
                   pq_codec_name(cm->codec));
    for (int i = 0; i < cm->nencodings; i++)
        sd_buf_appendf(out, "%s%s", i ? ", " : "", pq_encoding_name(cm->encodings[i]));
    sd_buf_appendf(out, "] values=%lld compressed=%lld uncompressed=%lld",
                   (long long)cm->num_values, (long long)cm->total_compressed_size,
                   (long long)cm->total_uncompressed_size);
    pq_format_stat(f, rg, c, out);
    sd_buf_append_byte(out, '\n');
}

void pq_file_format_meta(const pq_file *f, sd_buf *out) {
    const pq_file_meta *m = pq_file_meta_of(f);
    sd_buf_appendf(out, "file: %s\n", pq_file_name(f));
    sd_buf_appendf(out, "created_by: %s\n", m->created_by ? m->created_by : "(unknown)");
    sd_buf_appendf(out, "version: %d\n", (int)m->version);
    sd_buf_appendf(out, "rows: %lld\n", (long long)m->num_rows);
    sd_buf_appendf(out, "row groups: %d\n", m->nrow_groups);
    for (int i = 0; i < m->nkv; i++) {
        const char *v = m->kv[i].value ? m->kv[i].value : "";
        size_t n = strlen(v);
        /* Long values (Spark's schema JSON) are cut to keep the dump readable. */
        sd_buf_appendf(out, "key %s: %.*s%s\n", m->kv[i].key ? m->kv[i].key : "?",
                       (int)(n > 120 ? 120 : n), v, n > 120 ? "..." : "");
    }
    for (int rg = 0; rg < m->nrow_groups; rg++) {
        const pq_row_group *g = &m->row_groups[rg];
        sd_buf_appendf(out, "row group %d: %lld rows, %lld bytes\n", rg, (long long)g->num_rows,
                       (long long)g->total_byte_size);
        for (int c = 0; c < g->ncolumns; c++) pq_format_chunk(f, rg, c, out);
    }
}
