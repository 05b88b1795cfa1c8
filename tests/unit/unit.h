/*
 * unit.h - a minimal unit-test harness. Tests register themselves with
 * TEST(name) (a constructor adds them to one list), so each test file stands
 * alone. `unit_tests --list` prints the names, `unit_tests NAME...` runs the
 * named ones, no argument runs all; pytest drives one process per test.
 */
#ifndef SD_UNIT_H
#define SD_UNIT_H

#include <stdio.h>
#include <string.h>

#include "util/util.h"

typedef void (*unit_fn)(void);
void unit_register(const char *name, unit_fn fn);
/* Record a failed check; the test goes on so one run shows every failure. */
void unit_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A scratch directory unique to this test process (created on first use). */
const char *unit_tmpdir(void);
/* The shared Delta conformance tables: $SD_CONFORMANCE, else
 * ../shared/conformance/delta-tables beside the repository (tests run from
 * the repository's root). */
const char *unit_conformance_dir(void);

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void register_##name(void) {                               \
        unit_register(#name, test_##name);                                                         \
    }                                                                                              \
    static void test_##name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) unit_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                            \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long _a = (long long)(a), _b = (long long)(b);                                        \
        if (_a != _b) unit_fail(__FILE__, __LINE__, "%s == %lld, expected %lld", #a, _a, _b);      \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *_a = (a), *_b = (b);                                                           \
        if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0)                                       \
            unit_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a, _a ? _a : "(null)", \
                      _b ? _b : "(null)");                                                         \
    } while (0)

/* Status must be SD_OK; prints the error message otherwise. */
#define CHECK_OK(expr, errp)                                                                       \
    do {                                                                                           \
        sd_status _s = (expr);                                                                     \
        if (_s != SD_OK) unit_fail(__FILE__, __LINE__, "%s failed: %s", #expr, (errp)->msg);       \
    } while (0)

/* The same, but the test stops there: what follows needs the result. */
#define REQUIRE_OK(expr, errp)                                                                     \
    do {                                                                                           \
        sd_status _s = (expr);                                                                     \
        if (_s != SD_OK) {                                                                         \
            unit_fail(__FILE__, __LINE__, "%s failed: %s", #expr, (errp)->msg);                    \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#endif
