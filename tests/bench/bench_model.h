/* bench_model.h: failing loudly and opening a model, for the benchmark programs that link
 * libmodel. */
#ifndef PYRAMASK_BENCH_MODEL_H
#define PYRAMASK_BENCH_MODEL_H

#include <stdio.h>
#include <stdlib.h>

#include <gsl/gsl_rng.h>

#include "model.h"

/* Prints "prog: what: code: message" and exits 1 (m may be NULL). */
static inline void bench_die(const char *prog, model *m, int rc, const char *what)
{
    fprintf(stderr, "%s: %s: %s: %s\n", prog, what, model_strerror(rc),
            m ? model_errmsg(m) : "");
    exit(1);
}

/* A model of config c (the default settings otherwise) on `threads` threads, parameters
 * drawn from mt19937 at seed; exits through bench_die on failure. */
static inline model *bench_open_model(const char *prog, model_config c, int threads,
                                      unsigned long seed)
{
    model_settings s;
    model_default_settings(&s);
    s.config = c;
    s.threads = threads;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    model *m = NULL;
    int rc = model_open(&m, &s, r);
    gsl_rng_free(r);
    if (rc)
        bench_die(prog, m, rc, "model_open");
    return m;
}

#endif
