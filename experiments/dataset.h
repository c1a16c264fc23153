/* dataset.h: a split's text encoded at the model level with its alignment to the coarser
 * pyramid levels, and windows of it as libmask sequences. */
#ifndef PYRAMASK_DATASET_H
#define PYRAMASK_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "mask.h"
#include "tok.h"

struct dataset {
    const char *text; /* the split (borrowed) */
    size_t len;
    int lo, hi;         /* model level, top level */
    tok_align align;    /* encodings lo..hi */
    size_t n;           /* model-level tokens */
    const int32_t *ids; /* align.ids[lo] */
};

/* Scratch arrays for one window of T tokens as a mask_seq. */
struct window {
    int T, nlevels;
    int prompt;              /* tokens never masked (the response structure) */
    int32_t *offsets;        /* (T) */
    int32_t *units;          /* (nlevels, T) */
    const int32_t **unit_of; /* (nlevels) pointers into units */
};

/* Encodes text at levels lo..top jointly, on nthreads threads (the result does not depend on
 * them). */
int dataset_encode(struct dataset *d, const tok *t, int lo, const char *text, size_t len,
                   int nthreads);
void dataset_free(struct dataset *d);
/* The id of the single byte `byte` at pyramid level `level` when it encodes to one token
 * (the end-of-text byte of data.eot), else -1. */
int32_t dataset_byte_id(const tok *t, int level, unsigned char byte);
/* Model-level tokens [start, start + T) as a sequence (start + T <= d->n). */
int window_alloc(struct window *w, int T, int nlevels, int prompt);
void window_free(struct window *w);
void dataset_window(const struct dataset *d, size_t start, struct window *w, mask_seq *seq);

#endif
