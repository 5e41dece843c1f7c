/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* A minimal C test harness: checks that record failures, a case table, bounded waits. */
#ifndef MQE_TEST_HARNESS_H
#define MQE_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *name;
    void (*run)(void);
} h_case_t;

/* Failures recorded in the current case. */
extern int h_failures;

void h_fail(const char *file, int line, const char *fmt, ...);

/* Milliseconds from CLOCK_MONOTONIC: the harness's own clock, independent of the tick
 * offset the engine may be given. */
uint64_t h_real_ms(void);

/* Runs the cases whose name contains filter (all when NULL; "!text": all but those
 * containing text), prints a line per case and
 * then exactly "N passed, N failed". Returns the process exit status. */
int h_run(const h_case_t *cases, int count, const char *filter, void (*teardown)(void));

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            h_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                                 \
        }                                                                                    \
    } while (0)

/* Stops the case: what follows depends on it. */
#define REQUIRE(cond)                                                                        \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            h_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);                               \
            return;                                                                          \
        }                                                                                    \
    } while (0)

#define CHECK_EQ(actual, expected)                                                           \
    do {                                                                                     \
        long long h_a_ = (long long)(actual), h_e_ = (long long)(expected);                  \
        if (h_a_ != h_e_) {                                                                  \
            h_fail(__FILE__, __LINE__, "%s == %s: got %lld, want %lld", #actual, #expected, \
                   h_a_, h_e_);                                                              \
        }                                                                                    \
    } while (0)

#define REQUIRE_EQ(actual, expected)                                                         \
    do {                                                                                     \
        long long h_a_ = (long long)(actual), h_e_ = (long long)(expected);                  \
        if (h_a_ != h_e_) {                                                                  \
            h_fail(__FILE__, __LINE__, "%s == %s: got %lld, want %lld", #actual, #expected, \
                   h_a_, h_e_);                                                              \
            return;                                                                          \
        }                                                                                    \
    } while (0)

/* Calls pump() until cond holds or ms pass; bounded by the harness clock. */
#define WAIT_UNTIL(cond, ms, pump)                                                           \
    do {                                                                                     \
        uint64_t h_until_ = h_real_ms() + (ms);                                              \
        while (!(cond) && h_real_ms() < h_until_) {                                          \
            pump();                                                                          \
        }                                                                                    \
    } while (0)

#endif /* MQE_TEST_HARNESS_H */
