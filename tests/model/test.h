/* test.h: the small harness shared by libmodel's test files: checks that print what was
 * expected and what came, and helpers to build tiny models. */
#ifndef PYRAMASK_TEST_MODEL_H
#define PYRAMASK_TEST_MODEL_H

#include "../check.h"
#include <stdint.h>
#include <stdio.h>

#include <gsl/gsl_rng.h>

#include "model.h"

/* rc must be want; prints both codes and the handle's message */
#define CHECK_RC(m, rc, want)                                                                \
    CHECK((rc) == (want), "expected %d (%s), got %d (%s): %s", (want), model_strerror(want), \
          (rc), model_strerror(rc), model_errmsg(m))

/* A model of the given shape with parameters drawn at seed; aborts the test on failure. */
model *test_model(int V, int K, int d, int L, int H, int T, int causal, int threads,
                  unsigned long seed);
/* Replaces every parameter by N(0, sd) (larger weights make gradient checks sensitive). */
void test_scale_params(model *m, double sd, unsigned long seed);
/* A gsl_rng (mt19937) at seed: free with gsl_rng_free. */
gsl_rng *test_rng(unsigned long seed);

/* test files */
void test_grad_ops(void);
void test_grad_model(void);
void test_fastmath(void);
void test_subs(void);
void test_causal(void);
void test_prior(void);
void test_adamw(void);
void test_lr(void);
void test_checkpoint(void);
void test_determinism(void);
void test_sampler(void);
void test_errors(void);
void test_blas(void);
void test_train(void);
void test_layout(void);
void test_errmsg(void);
void test_strategy_names(void);
void test_atomic_file(void);
void test_defaults(void);
void test_positions(void);
int test_torch(void); /* 77: skipped */
int test_text(void);  /* 77: skipped */
void test_sample_quality(void);

#endif
