/*
 * delta_features.c - protocol versions and table features (PROTOCOL.md
 * "Protocol Evolution", "Table Features", "Valid Feature Names").
 *
 * A table that needs a reader feature we do not implement must be refused,
 * never misread: e.g. with column mapping in name mode the Parquet column
 * names are not the logical ones, and with type widening a file may hold
 * narrower types than the schema. Writers are held to a stricter rule: a
 * feature is acceptable only if our writer keeps its invariants, or it is
 * present but inactive (legacy protocol versions imply features that a
 * table may never use, e.g. writer version 2 implies invariants).
 */
#include <string.h>

#include "delta_internal.h"

/* Reader features we implement. */
static const char *const READ_SUPPORTED[] = {
    "deletionVectors", "timestampNtz", "vacuumProtocolCheck",
    "columnMapping", /* only with mode none; checked below */
};

/* Writer features whose invariants our writer keeps, or that are checked
 * for being inactive below. */
static const char *const WRITE_SUPPORTED[] = {
    "appendOnly",       /* enforced at commit: no data-changing removes */
    "invariants",       /* only when no column declares one */
    "checkConstraints", /* only when none is defined */
    "changeDataFeed",   /* only when delta.enableChangeDataFeed is not true */
    "generatedColumns", /* only when no column is generated */
    "identityColumns",  /* only when no column is an identity column */
    "columnMapping",    /* only with mode none */
    "deletionVectors",  /* we carry descriptors of existing DVs */
    "timestampNtz",     "domainMetadata", "vacuumProtocolCheck",
};

static bool in_list(const char *name, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0) return true;
    return false;
}

static bool has_feature(const char **features, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(features[i], name) == 0) return true;
    return false;
}

static const char *config(const delta_metadata *m, const char *key) {
    return m ? delta_map_get(&m->configuration, key, NULL) : NULL;
}

/* Column mapping in name or id mode renames physical columns: refuse. */
static sd_status check_column_mapping(const delta_metadata *m, sd_error *err) {
    const char *mode = config(m, "delta.columnMapping.mode");
    if (mode != NULL && strcmp(mode, "none") != 0)
        return sd_error_set(err, SD_ERR_UNSUPPORTED,
                            "table feature columnMapping (mode %s) is not supported", mode);
    return SD_OK;
}

sd_status delta_features_check_read(const delta_protocol *p, const delta_metadata *m,
                                    sd_error *err) {
    if (p->min_reader_version < 1 || p->min_reader_version > 3)
        return sd_error_set(err, SD_ERR_UNSUPPORTED,
                            "reader version %d is not supported (we read versions 1 to 3)",
                            p->min_reader_version);
    if (p->min_reader_version == 2) return check_column_mapping(m, err);
    if (p->min_reader_version == 3) {
        for (size_t i = 0; i < p->nreader_features; i++) {
            const char *f = p->reader_features[i];
            if (!in_list(f, READ_SUPPORTED, sizeof(READ_SUPPORTED) / sizeof(READ_SUPPORTED[0])))
                return sd_error_set(err, SD_ERR_UNSUPPORTED,
                                    "table feature %s is required to read this table and is "
                                    "not supported",
                                    f);
        }
        if (has_feature(p->reader_features, p->nreader_features, "columnMapping"))
            return check_column_mapping(m, err);
    }
    return SD_OK;
}

/* Is a legacy or listed feature actually in use by this table? */
static bool schema_mentions(const delta_metadata *m, const char *key) {
    return m != NULL && m->schema_string != NULL && strstr(m->schema_string, key) != NULL;
}

static bool config_prefix(const delta_metadata *m, const char *prefix) {
    if (m == NULL) return false;
    for (size_t i = 0; i < m->configuration.count; i++)
        if (strncmp(m->configuration.items[i].key, prefix, strlen(prefix)) == 0) return true;
    return false;
}

static sd_status check_active_features(const delta_metadata *m, sd_error *err) {
    if (schema_mentions(m, "\"delta.invariants\""))
        return sd_error_set(err, SD_ERR_UNSUPPORTED,
                            "table feature invariants is in use (a column declares "
                            "delta.invariants); writing it is not supported");
    if (config_prefix(m, "delta.constraints."))
        return sd_error_set(err, SD_ERR_UNSUPPORTED,
                            "table feature checkConstraints is in use (delta.constraints.*); "
                            "writing it is not supported");
    if (schema_mentions(m, "\"delta.generationExpression\""))
        return sd_error_set(err, SD_ERR_UNSUPPORTED,
                            "table feature generatedColumns is in use; writing it is not "
                            "supported");
    if (schema_mentions(m, "\"delta.identity."))
        return sd_error_set(err, SD_ERR_UNSUPPORTED,
                            "table feature identityColumns is in use; writing it is not "
                            "supported");
    const char *cdf = config(m, "delta.enableChangeDataFeed");
    if (cdf != NULL && strcmp(cdf, "true") == 0)
        return sd_error_set(err, SD_ERR_UNSUPPORTED,
                            "table feature changeDataFeed is enabled "
                            "(delta.enableChangeDataFeed=true); writing it is not supported");
    return check_column_mapping(m, err);
}

sd_status delta_features_check_write(const delta_protocol *p, const delta_metadata *m,
                                     sd_error *err) {
    sd_status st = delta_features_check_read(p, m, err);
    if (st != SD_OK) return st;
    if (p->min_writer_version < 1 || p->min_writer_version > 7)
        return sd_error_set(err, SD_ERR_UNSUPPORTED,
                            "writer version %d is not supported (we write versions 1 to 7)",
                            p->min_writer_version);
    if (p->min_writer_version == 7) {
        for (size_t i = 0; i < p->nwriter_features; i++) {
            const char *f = p->writer_features[i];
            if (!in_list(f, WRITE_SUPPORTED, sizeof(WRITE_SUPPORTED) / sizeof(WRITE_SUPPORTED[0])))
                return sd_error_set(err, SD_ERR_UNSUPPORTED,
                                    "table feature %s is required to write this table and is "
                                    "not supported",
                                    f);
        }
    }
    return check_active_features(m, err);
}
