/* notebooks-export tests: assertions that print what was expected and what came, and the
 * test groups that test_main.c runs by name. */
#ifndef PYRAMASK_TESTS_EXPORT_CHECK_H
#define PYRAMASK_TESTS_EXPORT_CHECK_H

#include <stdio.h>
#include <string.h>

extern int check_failures;

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            check_failures++;                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
        }                                                                                      \
    } while (0)

#define CHECK_STR(expected, actual)                                                            \
    do {                                                                                       \
        const char *e_ = (expected), *a_ = (actual);                                           \
        CHECK(a_ && !strcmp(e_, a_), "expected \"%s\", got \"%s\"", e_, a_ ? a_ : "(null)");  \
    } while (0)

#define CHECK_INT(expected, actual)                                                            \
    do {                                                                                       \
        long long e_ = (long long)(expected), a_ = (long long)(actual);                        \
        CHECK(e_ == a_, "expected %lld, got %lld", e_, a_);                                    \
    } while (0)

void test_markup(void);
void test_svgplot(void);
void test_report(void);

#endif
