/* samples.h: text from the denoiser: unconditional generation and infilling of a text
 * whose holes are written [MASK] (one token) or [MASK:n] (n tokens). */
#ifndef PYRAMASK_SAMPLES_H
#define PYRAMASK_SAMPLES_H

#include <stdio.h>

#include <gsl/gsl_rng.h>

#include "model.h"
#include "tok.h"

struct sample_opts {
    int level;            /* the model level of the pyramid */
    int steps;            /* unmasking steps */
    const char *strategy; /* random, confidence, block */
    int block;            /* block length for the block strategy */
};

/* Generates n sequences of the model's seq_len tokens from all-[MASK] and prints each
 * under a "--- generated i ---" line. Returns 0 or -1 with err. */
int samples_generate(model *m, const tok *t, const struct sample_opts *o, int n, gsl_rng *r,
                     FILE *out, char *err, size_t errlen);

/* Fills the holes of `text` (at most seq_len tokens in all) and prints the result.
 * Returns 0, -1 (err: bad input, e.g. too long) or -2. */
int samples_infill(model *m, const tok *t, const struct sample_opts *o, const char *text,
                   gsl_rng *r, FILE *out, char *err, size_t errlen);

#endif
