/* libmask tests: assertions that print what was expected and what came, and the test table.
 * Statistical checks use 5-sigma bounds computed from the exact binomial variance. */
#ifndef PYRAMASK_TESTS_MASK_CHECK_H
#define PYRAMASK_TESTS_MASK_CHECK_H

#include "../check.h"
#include <math.h>
#include <stdio.h>

/* |observed - mean| <= 5 sqrt(var): the statistic's exact mean and variance come from the
 * binomial model of the test; 5 sigma keeps false alarms below 1e-6 for fixed seeds. */
#define CHECK_5SIGMA(what, observed, mean, var)                                           \
    do {                                                                                  \
        double o_ = (observed), m_ = (mean), s_ = sqrt(var);                              \
        CHECK(fabs(o_ - m_) <= 5 * s_ + 1e-9,                                             \
              "%s: expected %.6g +- 5 x %.4g, got %.6g (%.2f sigma)", (what), m_, s_, o_, \
              s_ > 0 ? (o_ - m_) / s_ : 0.0);                                             \
    } while (0)

void test_schedule(void);
void test_curriculum(void);
void test_structure(void);
void test_types(void);
void test_importance(void);
void test_errors(void);
void test_data(void);
void test_chain(void);
void test_chain_elbo(void);
void test_varlen(void);

#endif
