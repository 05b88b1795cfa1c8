/*
 * pq_assemble.c - record assembly: turn the definition and repetition
 * levels of leaf column chunks into nested columns (structs, lists, maps)
 * with validity and offsets, and spread each leaf's densely decoded values
 * over its slots (parquet-format's Dremel encoding, as Arrow and DuckDB
 * read it).
 *
 * A node owns one "slot" per level entry that starts a new value of it:
 * an entry whose repetition level is at most the node's `rep` (a new row, or
 * a new element of the list that encloses the node) and whose definition
 * level reaches the enclosing list's element level `anc_def` (otherwise the
 * enclosing list is empty or null and has no element here). A slot is valid
 * when its definition level reaches the node's own `def`. A list's element
 * count is the number of entries that start an element of it.
 *
 * All leaves below a node describe its slots identically in a valid file;
 * we read them from the first leaf and check that every child column ends
 * up with the length its parent implies, so a corrupt file is refused
 * instead of producing misaligned columns.
 */
#include <stdlib.h>
#include <string.h>

#include "pq_reader_internal.h"

static inline bool pq_is_slot(const pq_node *n, const pq_leaf_data *ld, size_t i) {
    return (ld->rep == NULL || ld->rep[i] <= n->rep) &&
           (ld->def == NULL || ld->def[i] >= n->anc_def);
}

#define PQ_SPREAD_LOOP(T)                                                                          \
    do {                                                                                           \
        T *v = (T *)col->values;                                                                   \
        for (size_t i = n; i-- > 0;) {                                                             \
            if (valid[i])                                                                          \
                v[i] = v[--j];                                                                     \
            else                                                                                   \
                memset(&v[i], 0, sizeof(T));                                                       \
        }                                                                                          \
    } while (0)

void pq_spread(sd_column *col, size_t ndense, const uint8_t *valid, size_t n) {
    size_t j = ndense;
    sd_type_kind kind = col->type->kind;
    if (kind == SD_STRING || kind == SD_BINARY) {
        int64_t *o = col->offsets;
        for (size_t i = n; i-- > 0;) {
            o[i + 1] = o[j];
            if (valid[i]) j--;
        }
        return;
    }
    switch (sd_type_width(kind)) {
        case 1:
            PQ_SPREAD_LOOP(uint8_t);
            break;
        case 2:
            PQ_SPREAD_LOOP(uint16_t);
            break;
        case 4:
            PQ_SPREAD_LOOP(uint32_t);
            break;
        case 8:
            PQ_SPREAD_LOOP(uint64_t);
            break;
        case 16:
            PQ_SPREAD_LOOP(__int128);
            break;
        default:
            break;
    }
}

/* Give `col` n rows with the validity in `valid` (taken over; freed when
 * every row is valid). */
static void pq_set_validity(sd_column *col, size_t n, uint8_t *valid, size_t nvalid) {
    free(col->valid);
    col->valid = NULL;
    if (nvalid == n) {
        free(valid);
    } else {
        sd_column_reserve(col, n);
        col->valid = sd_xrealloc(valid, col->values_cap ? col->values_cap : 1);
    }
    col->len = n;
}

static sd_status pq_assemble_leaf(const pq_node *node, sd_column *col, pq_leaf_data *ld,
                                  sd_error *err) {
    if (ld->def == NULL) {
        if (ld->ndense != ld->nlevels)
            return sd_error_set(err, SD_ERR_FORMAT, "column %s: %zu values for %zu rows",
                                ld->leaf->path, ld->ndense, ld->nlevels);
        col->len = ld->ndense;
        return SD_OK;
    }
    uint8_t *valid = sd_xmalloc(ld->nlevels ? ld->nlevels : 1);
    size_t n = 0, nvalid = 0;
    int max_def = ld->leaf->max_def;
    for (size_t i = 0; i < ld->nlevels; i++) {
        if (!pq_is_slot(node, ld, i)) continue;
        uint8_t v = ld->def[i] == max_def;
        valid[n++] = v;
        nvalid += v;
    }
    if (nvalid != ld->ndense) {
        free(valid);
        return sd_error_set(err, SD_ERR_FORMAT,
                            "column %s: definition levels describe %zu values, pages hold %zu",
                            ld->leaf->path, nvalid, ld->ndense);
    }
    sd_column_reserve(col, n);
    if (nvalid != n) pq_spread(col, ld->ndense, valid, n);
    pq_set_validity(col, n, valid, nvalid);
    return SD_OK;
}

static sd_status pq_check_child_len(const pq_node *node, const sd_column *child, size_t want,
                                    pq_leaf_data *leaves, sd_error *err) {
    if (child->len == want) return SD_OK;
    return sd_error_set(err, SD_ERR_FORMAT,
                        "column %s: levels disagree between leaves (%zu values, expected %zu)",
                        leaves[node->first_leaf].leaf->path, child->len, want);
}

static sd_status pq_assemble_struct(const pq_node *node, sd_column *col, pq_leaf_data *leaves,
                                    sd_error *err) {
    pq_leaf_data *ld = &leaves[node->first_leaf];
    size_t n = 0, nvalid = 0;
    uint8_t *valid = sd_xmalloc(ld->nlevels ? ld->nlevels : 1);
    for (size_t i = 0; i < ld->nlevels; i++) {
        if (!pq_is_slot(node, ld, i)) continue;
        uint8_t v = ld->def == NULL || ld->def[i] >= node->def;
        valid[n++] = v;
        nvalid += v;
    }
    pq_set_validity(col, n, valid, nvalid);
    for (int c = 0; c < node->nchildren && c < col->nchildren; c++) {
        if (pq_assemble(&node->children[c], &col->children[c], leaves, err) != SD_OK)
            return err->code;
        if (pq_check_child_len(node, &col->children[c], n, leaves, err) != SD_OK) return err->code;
    }
    return SD_OK;
}

static sd_status pq_assemble_list(const pq_node *node, sd_column *col, pq_leaf_data *leaves,
                                  sd_error *err) {
    pq_leaf_data *ld = &leaves[node->first_leaf];
    sd_column_reserve(col, ld->nlevels);
    uint8_t *valid = sd_xmalloc(ld->nlevels ? ld->nlevels : 1);
    int64_t *off = col->offsets;
    size_t n = 0, nvalid = 0;
    off[0] = 0;
    for (size_t i = 0; i < ld->nlevels; i++) {
        int d = ld->def ? ld->def[i] : ld->leaf->max_def; /* NULL: all present */
        if (pq_is_slot(node, ld, i)) {
            uint8_t v = d >= node->def;
            valid[n] = v;
            nvalid += v;
            off[n + 1] = off[n] + (d >= node->elem_def);
            n++;
        } else if (ld->rep && ld->rep[i] == node->rep + 1 && d >= node->elem_def) {
            if (n == 0) {
                free(valid);
                return sd_error_set(err, SD_ERR_FORMAT,
                                    "column %s: the first value continues a list (repetition "
                                    "level %d)",
                                    ld->leaf->path, ld->rep[i]);
            }
            off[n]++;
        }
    }
    pq_set_validity(col, n, valid, nvalid);
    size_t nelems = (size_t)off[n];
    for (int c = 0; c < node->nchildren && c < col->nchildren; c++) {
        if (pq_assemble(&node->children[c], &col->children[c], leaves, err) != SD_OK)
            return err->code;
        if (pq_check_child_len(node, &col->children[c], nelems, leaves, err) != SD_OK)
            return err->code;
    }
    return SD_OK;
}

sd_status pq_assemble(const pq_node *node, sd_column *col, pq_leaf_data *leaves, sd_error *err) {
    switch (node->kind) {
        case PQ_NODE_LEAF:
            return pq_assemble_leaf(node, col, &leaves[node->leaf], err);
        case PQ_NODE_STRUCT:
            return pq_assemble_struct(node, col, leaves, err);
        case PQ_NODE_LIST:
        case PQ_NODE_MAP:
            return pq_assemble_list(node, col, leaves, err);
    }
    return sd_error_set(err, SD_ERR_INTERNAL, "unknown schema node kind %d", (int)node->kind);
}
