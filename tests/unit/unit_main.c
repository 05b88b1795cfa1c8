/*
 * unit_main.c - runner for the tests registered with TEST().
 */
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#define UNIT_MAX 4096

static struct {
    const char *name;
    unit_fn fn;
} unit_tests[UNIT_MAX];
static int unit_count;
static int unit_failures;
static char unit_dir[256];

void unit_register(const char *name, unit_fn fn) {
    if (unit_count < UNIT_MAX) {
        unit_tests[unit_count].name = name;
        unit_tests[unit_count].fn = fn;
        unit_count++;
    }
}

void unit_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    unit_failures++;
}

const char *unit_tmpdir(void) {
    if (unit_dir[0] == '\0') {
        const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(unit_dir, sizeof(unit_dir), "%s/sd-unit-XXXXXX", base);
        if (mkdtemp(unit_dir) == NULL) {
            perror("mkdtemp");
            abort();
        }
    }
    return unit_dir;
}

const char *unit_conformance_dir(void) {
    const char *env = getenv("SD_CONFORMANCE");
    return env != NULL && env[0] != '\0' ? env : "../shared/conformance/delta-tables";
}

static void unit_cleanup(void) {
    if (unit_dir[0] != '\0') {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", unit_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", unit_dir);
        unit_dir[0] = '\0';
    }
}

static int unit_run(int i) {
    int before = unit_failures;
    unit_tests[i].fn();
    unit_cleanup();
    bool ok = unit_failures == before;
    printf("%s %s\n", ok ? "ok  " : "FAIL", unit_tests[i].name);
    return ok;
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < unit_count; i++) printf("%s\n", unit_tests[i].name);
        return 0;
    }
    for (int i = 0; i < unit_count; i++) {
        bool selected = argc == 1;
        for (int a = 1; a < argc && !selected; a++)
            selected = strcmp(argv[a], unit_tests[i].name) == 0;
        if (!selected) continue;
        if (unit_run(i))
            passed++;
        else
            failed++;
    }
    if (passed + failed == 0) {
        fprintf(stderr, "no test matched\n");
        return 2;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
