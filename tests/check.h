/* check.h: the assertions every test program shares. A failed check prints where it is, the
 * condition, and what was expected and what came, and counts itself in check_failures. */
#ifndef PYRAMASK_TESTS_CHECK_H
#define PYRAMASK_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

/* defined once by each test program: checks made, checks failed (its exit status) */
extern int check_count, check_failures;

#define CHECK(cond, ...)                                                             \
    do {                                                                             \
        check_count++;                                                               \
        if (!(cond)) {                                                               \
            check_failures++;                                                        \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

#define CHECK_INT(expected, actual)                                     \
    do {                                                                \
        long long e_ = (long long)(expected), a_ = (long long)(actual); \
        CHECK(e_ == a_, "expected %lld, got %lld", e_, a_);             \
    } while (0)

#define CHECK_STR(expected, actual)                                                          \
    do {                                                                                     \
        const char *e_ = (expected), *a_ = (actual);                                         \
        CHECK(a_ && !strcmp(e_, a_), "expected \"%s\", got \"%s\"", e_, a_ ? a_ : "(null)"); \
    } while (0)

#define CHECK_NEAR(expected, actual, tol)                                                   \
    do {                                                                                    \
        double e_ = (expected), a_ = (actual), t_ = (tol);                                  \
        CHECK(fabs(e_ - a_) <= t_, "expected %.15g, got %.15g (tolerance %g)", e_, a_, t_); \
    } while (0)

#endif
