/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#define _POSIX_C_SOURCE 200809L /* POSIX.1-2008 under -std=c99; must precede every include */
#include "harness.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

int h_failures;

void h_fail(const char *file, int line, const char *fmt, ...) {
    va_list args;
    h_failures++;
    printf("    %s:%d: ", file, line);
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
}

uint64_t h_real_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int h_run(const h_case_t *cases, int count, const char *filter, void (*teardown)(void)) {
    int passed = 0;
    int failed = 0;
    for (int i = 0; i < count; i++) {
        /* "!text" runs the cases whose name does not contain text. */
        bool exclude = filter != NULL && filter[0] == '!';
        if (filter != NULL && (strstr(cases[i].name, filter + exclude) == NULL) != exclude) {
            continue;
        }
        h_failures = 0;
        uint64_t start = h_real_ms();
        cases[i].run();
        if (teardown != NULL) {
            teardown();
        }
        unsigned long took = (unsigned long)(h_real_ms() - start);
        if (h_failures == 0) {
            passed++;
            printf("ok   %s (%lu ms)\n", cases[i].name, took);
        } else {
            failed++;
            printf("FAIL %s (%lu ms)\n", cases[i].name, took);
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
