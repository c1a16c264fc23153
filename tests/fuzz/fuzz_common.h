/* fuzz_common.h: what every fuzz harness shares: the libFuzzer entry points, a private
 * scratch directory for inputs that must be files, the shipped data, and a hard check. */
#ifndef PYRAMASK_FUZZ_COMMON_H
#define PYRAMASK_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry points; replay.c calls the same two from a plain main(). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A directory of this process's own, removed at exit: under $FUZZ_TMPDIR if set, else on
 * /dev/shm when there is one (so that fsync is cheap), else /tmp. */
const char *fuzz_dir(void);

/* Writes data to fuzz_dir()/name, replacing it; returns the path in static storage that
 * the next call overwrites. Aborts on failure. */
const char *fuzz_write(const char *name, const void *data, size_t n);

/* The whole file into a malloc'd buffer with a NUL after its n bytes; NULL if unreadable. */
uint8_t *fuzz_read(const char *path, size_t *n);

/* The source tree (meson defines it), for the shipped data and fixtures. */
#ifndef FUZZ_SOURCE_ROOT
#define FUZZ_SOURCE_ROOT "."
#endif

/* The first `max` bytes of a file of the source tree ("data/prose/kjv.txt"), malloc'd. */
uint8_t *fuzz_data(const char *rel, size_t max, size_t *n);

/* A property of the code under test failed: print what and abort (a crash to libFuzzer). */
#define FUZZ_CHECK(cond, ...)                                                \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            abort();                                                         \
        }                                                                    \
    } while (0)

#endif
