/*
 * pq_meta_writer.c - FileMetaData and PageHeader structs to their Thrift
 * compact encoding (apache/parquet-format, src/main/thrift/parquet.thrift).
 *
 * Fields are written in increasing id order, so most field headers take one
 * byte. Optional fields are written only when their has_ flag (or a non-NULL
 * pointer, or a non-zero count) says they are present; what the reader in
 * pq_meta_reader.c parses back is exactly what went in.
 */
#include <string.h>

#include "pq_internal.h"

static void pq_write_statistics(pq_thrift_writer *w, int16_t id, const pq_statistics *s) {
    pq_thrift_write_field(w, id, PQ_TT_STRUCT);
    pq_thrift_write_struct_begin(w);
    /* The deprecated min/max (signed byte order) only when the caller set
     * them on purpose: modern readers use min_value/max_value. */
    if (s->has_legacy_max)
        pq_thrift_write_binary_field(w, 1, s->legacy_max.data, s->legacy_max.len);
    if (s->has_legacy_min)
        pq_thrift_write_binary_field(w, 2, s->legacy_min.data, s->legacy_min.len);
    if (s->has_null_count) pq_thrift_write_i64_field(w, 3, s->null_count);
    if (s->has_distinct_count) pq_thrift_write_i64_field(w, 4, s->distinct_count);
    if (s->has_max) pq_thrift_write_binary_field(w, 5, s->max.data, s->max.len);
    if (s->has_min) pq_thrift_write_binary_field(w, 6, s->min.data, s->min.len);
    pq_thrift_write_struct_end(w);
}

/* An empty struct as a union member or marker type (StringType, ...). */
static void pq_write_empty_struct(pq_thrift_writer *w, int16_t id) {
    pq_thrift_write_field(w, id, PQ_TT_STRUCT);
    pq_thrift_write_struct_begin(w);
    pq_thrift_write_struct_end(w);
}

/* TimeType / TimestampType: isAdjustedToUTC and the TimeUnit union. */
static void pq_write_time_type(pq_thrift_writer *w, const pq_logical_type *lt) {
    pq_thrift_write_bool_field(w, 1, lt->is_adjusted_to_utc);
    pq_thrift_write_field(w, 2, PQ_TT_STRUCT);
    pq_thrift_write_struct_begin(w);
    pq_write_empty_struct(w, (int16_t)lt->unit);
    pq_thrift_write_struct_end(w);
}

static void pq_write_logical_type(pq_thrift_writer *w, const pq_logical_type *lt) {
    pq_thrift_write_field(w, 10, PQ_TT_STRUCT);
    pq_thrift_write_struct_begin(w);
    pq_thrift_write_field(w, (int16_t)lt->kind, PQ_TT_STRUCT);
    pq_thrift_write_struct_begin(w);
    switch (lt->kind) {
        case PQ_LT_DECIMAL:
            pq_thrift_write_i32_field(w, 1, lt->scale);
            pq_thrift_write_i32_field(w, 2, lt->precision);
            break;
        case PQ_LT_TIME:
        case PQ_LT_TIMESTAMP:
            pq_write_time_type(w, lt);
            break;
        case PQ_LT_INTEGER:
            pq_thrift_write_field(w, 1, PQ_TT_BYTE);
            sd_buf_append_byte(w->out, (uint8_t)lt->bit_width);
            pq_thrift_write_bool_field(w, 2, lt->is_signed);
            break;
        default:
            break; /* the other kinds are empty structs */
    }
    pq_thrift_write_struct_end(w);
    pq_thrift_write_struct_end(w);
}

static void pq_write_schema_element(pq_thrift_writer *w, const pq_schema_element *e) {
    pq_thrift_write_struct_begin(w);
    if (e->has_type) pq_thrift_write_i32_field(w, 1, e->type);
    if (e->type_length > 0 || (e->has_type && e->type == PQ_FIXED_LEN_BYTE_ARRAY))
        pq_thrift_write_i32_field(w, 2, e->type_length);
    if (e->has_repetition) pq_thrift_write_i32_field(w, 3, e->repetition);
    pq_thrift_write_binary_field(w, 4, e->name ? e->name : "", e->name ? strlen(e->name) : 0);
    /* Groups (no physical type) always carry num_children, even 0. */
    if (!e->has_type || e->num_children > 0) pq_thrift_write_i32_field(w, 5, e->num_children);
    if (e->converted_type != PQ_CT_NONE) pq_thrift_write_i32_field(w, 6, e->converted_type);
    if (e->converted_type == PQ_CT_DECIMAL || e->scale != 0 || e->precision != 0) {
        pq_thrift_write_i32_field(w, 7, e->scale);
        pq_thrift_write_i32_field(w, 8, e->precision);
    }
    if (e->has_field_id) pq_thrift_write_i32_field(w, 9, e->field_id);
    if (e->logical.kind != PQ_LT_NONE) pq_write_logical_type(w, &e->logical);
    pq_thrift_write_struct_end(w);
}

static void pq_write_column_meta(pq_thrift_writer *w, const pq_column_meta *m) {
    pq_thrift_write_field(w, 3, PQ_TT_STRUCT);
    pq_thrift_write_struct_begin(w);
    pq_thrift_write_i32_field(w, 1, m->type);
    pq_thrift_write_field(w, 2, PQ_TT_LIST);
    pq_thrift_write_list_begin(w, PQ_TT_I32, m->nencodings);
    for (int i = 0; i < m->nencodings; i++) pq_thrift_write_i32(w, m->encodings[i]);
    pq_thrift_write_field(w, 3, PQ_TT_LIST);
    pq_thrift_write_list_begin(w, PQ_TT_BINARY, m->npath);
    for (int i = 0; i < m->npath; i++)
        pq_thrift_write_binary(w, m->path_in_schema[i], strlen(m->path_in_schema[i]));
    pq_thrift_write_i32_field(w, 4, m->codec);
    pq_thrift_write_i64_field(w, 5, m->num_values);
    pq_thrift_write_i64_field(w, 6, m->total_uncompressed_size);
    pq_thrift_write_i64_field(w, 7, m->total_compressed_size);
    pq_thrift_write_i64_field(w, 9, m->data_page_offset);
    if (m->has_index_page_offset) pq_thrift_write_i64_field(w, 10, m->index_page_offset);
    if (m->has_dictionary_page_offset) pq_thrift_write_i64_field(w, 11, m->dictionary_page_offset);
    if (m->has_statistics) pq_write_statistics(w, 12, &m->statistics);
    if (m->nencoding_stats > 0) {
        pq_thrift_write_field(w, 13, PQ_TT_LIST);
        pq_thrift_write_list_begin(w, PQ_TT_STRUCT, m->nencoding_stats);
        for (int i = 0; i < m->nencoding_stats; i++) {
            const pq_page_encoding_stats *s = &m->encoding_stats[i];
            pq_thrift_write_struct_begin(w);
            pq_thrift_write_i32_field(w, 1, s->page_type);
            pq_thrift_write_i32_field(w, 2, s->encoding);
            pq_thrift_write_i32_field(w, 3, s->count);
            pq_thrift_write_struct_end(w);
        }
    }
    pq_thrift_write_struct_end(w);
}

static void pq_write_column_chunk(pq_thrift_writer *w, const pq_column_chunk *c) {
    pq_thrift_write_struct_begin(w);
    if (c->file_path) pq_thrift_write_binary_field(w, 1, c->file_path, strlen(c->file_path));
    pq_thrift_write_i64_field(w, 2, c->file_offset);
    if (c->has_meta_data) pq_write_column_meta(w, &c->meta_data);
    pq_thrift_write_struct_end(w);
}

static void pq_write_row_group(pq_thrift_writer *w, const pq_row_group *g) {
    pq_thrift_write_struct_begin(w);
    pq_thrift_write_field(w, 1, PQ_TT_LIST);
    pq_thrift_write_list_begin(w, PQ_TT_STRUCT, g->ncolumns);
    for (int i = 0; i < g->ncolumns; i++) pq_write_column_chunk(w, &g->columns[i]);
    pq_thrift_write_i64_field(w, 2, g->total_byte_size);
    pq_thrift_write_i64_field(w, 3, g->num_rows);
    if (g->has_file_offset) pq_thrift_write_i64_field(w, 5, g->file_offset);
    if (g->has_total_compressed_size) pq_thrift_write_i64_field(w, 6, g->total_compressed_size);
    if (g->has_ordinal) {
        pq_thrift_write_field(w, 7, PQ_TT_I16);
        pq_thrift_write_i32(w, g->ordinal);
    }
    pq_thrift_write_struct_end(w);
}

void pq_meta_serialize(const pq_file_meta *m, sd_buf *out) {
    pq_thrift_writer w;
    pq_thrift_writer_init(&w, out);
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_i32_field(&w, 1, m->version);
    pq_thrift_write_field(&w, 2, PQ_TT_LIST);
    pq_thrift_write_list_begin(&w, PQ_TT_STRUCT, m->nschema);
    for (int i = 0; i < m->nschema; i++) pq_write_schema_element(&w, &m->schema[i]);
    pq_thrift_write_i64_field(&w, 3, m->num_rows);
    pq_thrift_write_field(&w, 4, PQ_TT_LIST);
    pq_thrift_write_list_begin(&w, PQ_TT_STRUCT, m->nrow_groups);
    for (int i = 0; i < m->nrow_groups; i++) pq_write_row_group(&w, &m->row_groups[i]);
    if (m->nkv > 0) {
        pq_thrift_write_field(&w, 5, PQ_TT_LIST);
        pq_thrift_write_list_begin(&w, PQ_TT_STRUCT, m->nkv);
        for (int i = 0; i < m->nkv; i++) {
            pq_thrift_write_struct_begin(&w);
            pq_thrift_write_binary_field(&w, 1, m->kv[i].key, strlen(m->kv[i].key));
            if (m->kv[i].value)
                pq_thrift_write_binary_field(&w, 2, m->kv[i].value, strlen(m->kv[i].value));
            pq_thrift_write_struct_end(&w);
        }
    }
    if (m->created_by) pq_thrift_write_binary_field(&w, 6, m->created_by, strlen(m->created_by));
    if (m->ncolumn_orders > 0) {
        /* One ColumnOrder per leaf, each the TYPE_ORDER member (field 1)
         * holding an empty TypeDefinedOrder struct. */
        pq_thrift_write_field(&w, 7, PQ_TT_LIST);
        pq_thrift_write_list_begin(&w, PQ_TT_STRUCT, m->ncolumn_orders);
        for (int i = 0; i < m->ncolumn_orders; i++) {
            pq_thrift_write_struct_begin(&w);
            pq_write_empty_struct(&w, 1);
            pq_thrift_write_struct_end(&w);
        }
    }
    pq_thrift_write_struct_end(&w);
}

void pq_page_header_serialize(const pq_page_header *h, sd_buf *out) {
    pq_thrift_writer w;
    pq_thrift_writer_init(&w, out);
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_i32_field(&w, 1, h->type);
    pq_thrift_write_i32_field(&w, 2, h->uncompressed_page_size);
    pq_thrift_write_i32_field(&w, 3, h->compressed_page_size);
    if (h->has_crc) pq_thrift_write_i32_field(&w, 4, h->crc);
    if (h->has_data_page_header) {
        const pq_data_page_header *d = &h->data_page_header;
        pq_thrift_write_field(&w, 5, PQ_TT_STRUCT);
        pq_thrift_write_struct_begin(&w);
        pq_thrift_write_i32_field(&w, 1, d->num_values);
        pq_thrift_write_i32_field(&w, 2, d->encoding);
        pq_thrift_write_i32_field(&w, 3, d->definition_level_encoding);
        pq_thrift_write_i32_field(&w, 4, d->repetition_level_encoding);
        if (d->has_statistics) pq_write_statistics(&w, 5, &d->statistics);
        pq_thrift_write_struct_end(&w);
    }
    if (h->has_dictionary_page_header) {
        const pq_dictionary_page_header *d = &h->dictionary_page_header;
        pq_thrift_write_field(&w, 7, PQ_TT_STRUCT);
        pq_thrift_write_struct_begin(&w);
        pq_thrift_write_i32_field(&w, 1, d->num_values);
        pq_thrift_write_i32_field(&w, 2, d->encoding);
        if (d->has_is_sorted) pq_thrift_write_bool_field(&w, 3, d->is_sorted);
        pq_thrift_write_struct_end(&w);
    }
    if (h->has_data_page_header_v2) {
        const pq_data_page_header_v2 *d = &h->data_page_header_v2;
        pq_thrift_write_field(&w, 8, PQ_TT_STRUCT);
        pq_thrift_write_struct_begin(&w);
        pq_thrift_write_i32_field(&w, 1, d->num_values);
        pq_thrift_write_i32_field(&w, 2, d->num_nulls);
        pq_thrift_write_i32_field(&w, 3, d->num_rows);
        pq_thrift_write_i32_field(&w, 4, d->encoding);
        pq_thrift_write_i32_field(&w, 5, d->definition_levels_byte_length);
        pq_thrift_write_i32_field(&w, 6, d->repetition_levels_byte_length);
        pq_thrift_write_bool_field(&w, 7, d->is_compressed);
        if (d->has_statistics) pq_write_statistics(&w, 8, &d->statistics);
        pq_thrift_write_struct_end(&w);
    }
    pq_thrift_write_struct_end(&w);
}
