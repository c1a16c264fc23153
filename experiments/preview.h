/* preview.h: a text corrupted under a run's [mask] settings, rendered as plain text with
 * each masked run shown as its mask type: what `mask preview` prints and runs record. */
#ifndef PYRAMASK_PREVIEW_H
#define PYRAMASK_PREVIEW_H

#include <stdio.h>

#include "run_prepare.h"

struct preview_count {
    int masked; /* masked tokens */
    int tokens; /* tokens of the text at the model level */
};

/* Encodes text (len bytes) at x's model level, corrupts it once at time t with x's
 * corruption and the generator seeded with `seed`, and writes it to out: unmasked tokens as
 * their bytes, each run of masked tokens of one type as [type] or [type*n] (wrapped in ANSI
 * reverse video when color), then a newline unless the text ended with one.
 * Returns 0, -1 for bad input (t outside [0, 1], an empty text) or -2 for other failures,
 * with the message in err. */
int preview_render(struct run_ctx *x, const char *text, size_t len, double t,
                   unsigned long seed, int color, FILE *out, struct preview_count *count,
                   char err[CONFIG_ERR_MAX]);

/* The first ~max bytes of x's validation split, cut after a line end when there is one
 * (borrowed from x); *len gets the length. */
const char *preview_valid_text(const struct run_ctx *x, size_t max, size_t *len);

#endif
