/* libmask tests: a synthetic tokenized text with two coarser levels, built from a seed, so
 * the tests know every token's kind, word and unit without libtok. */
#ifndef PYRAMASK_TESTS_MASK_FIXTURE_H
#define PYRAMASK_TESTS_MASK_FIXTURE_H

#include <stdint.h>

#include "mask.h"

enum { KIND_SPACE, KIND_WORD, KIND_NUMBER, KIND_IDENT, KIND_PUNCT };

typedef struct fixture {
    int n;
    int32_t *ids;     /* (n) */
    int32_t *offsets; /* (n) */
    char *text;
    size_t text_len;
    int32_t *lvl1; /* (n) word index (a word with its leading space, or a punctuation) */
    int32_t *lvl2; /* (n) group of 1..4 words */
    const int32_t *unit_of[2];
    int8_t *kind; /* (n) KIND_* of the token (space-only chunks are KIND_SPACE) */
    mask_seq seq;
} fixture;

/* About n_words words, ids in [0, V). */
void fixture_build(fixture *f, int n_words, unsigned long seed, int V);
void fixture_free(fixture *f);

/* Opens a handle, counting a failed check (with mask_errmsg) and returning NULL on error. */
mask *open_checked(const mask_settings *s);

#endif
