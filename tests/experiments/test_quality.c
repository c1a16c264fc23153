/* test_quality.c: the sample measures on inputs computed by hand. */
#include "../check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "quality.h"

int check_count, check_failures;

int main(void)
{
    const int32_t a[] = {1, 1, 2, 3};    /* p = 1/2, 1/4, 1/4 */
    const int32_t b[] = {1, 2, 1, 2, 1}; /* periodic */
    CHECK_NEAR(1.5, quality_entropy(a, 4), 1e-12);
    CHECK_NEAR(0.0, quality_entropy(a, 1), 1e-12);
    CHECK_NEAR(0.75, quality_distinct(a, 4, 1), 1e-12);
    CHECK_NEAR(1.0, quality_distinct(a, 4, 2), 1e-12);
    CHECK_NEAR(0.5, quality_distinct(b, 5, 2), 1e-12);
    CHECK_NEAR(2.0 / 3.0, quality_distinct(b, 5, 3), 1e-12);
    CHECK_NEAR(0.0, quality_distinct(b, 2, 3), 1e-12);
    /* b: positions 2, 3, 4 repeat a token of the 16 before; with a window of 1, none */
    CHECK_NEAR(0.75, quality_repetition(b, 5, 16), 1e-12);
    CHECK_NEAR(0.0, quality_repetition(b, 5, 1), 1e-12);
    CHECK_NEAR(1.0 / 3.0, quality_repetition(a, 4, 1), 1e-12);
    /* JS: disjoint supports 1 bit; identical 0; (1/2, 1/2) vs (1, 0) by hand */
    const int32_t z0[] = {0, 0}, z1[] = {1, 1}, z01[] = {0, 1};
    CHECK_NEAR(1.0, quality_js(z0, 2, z1, 2, 1), 1e-12);
    CHECK_NEAR(0.0, quality_js(b, 5, b, 5, 2), 1e-12);
    double want = 0.5 * (0.5 * log2(0.5 / 0.75) + 0.5 * log2(0.5 / 0.25)) +
                  0.5 * (1.0 * log2(1.0 / 0.75));
    CHECK_NEAR(want, quality_js(z01, 2, z0, 2, 1), 1e-12);
    CHECK_NEAR(0.311278, quality_js(z01, 2, z0, 2, 1), 1e-6);
    CHECK_NEAR(-1.0, quality_js(z0, 1, z1, 2, 2), 0); /* no bigram */
    /* bigrams: b has (1,2) x2, (2,1) x2; a has (1,1), (1,2), (2,3): shared (1,2) */
    double p12 = 0.5, q12 = 1.0 / 3, m12 = (p12 + q12) / 2;
    double js = 0.5 * (p12 * log2(p12 / m12) + 0.5 * log2(0.5 / 0.25)) +
                0.5 * (q12 * log2(q12 / m12) + 2 * (1.0 / 3) * log2((1.0 / 3) / (1.0 / 6)));
    CHECK_NEAR(js, quality_js(b, 5, a, 4, 2), 1e-12);
    /* a set of two samples: means of the per-sample measures */
    const int32_t set[] = {1, 1, 2, 3, 4, 4, 4, 4};
    const int32_t ref[] = {1, 1, 2, 3};
    struct quality q;
    quality_measure(&q, set, 2, 4, ref, 4);
    CHECK_INT(2, q.n);
    CHECK_NEAR(4.0, q.length, 0);
    CHECK_NEAR(0.75, q.entropy, 1e-12); /* (1.5 + 0) / 2 */
    CHECK_NEAR((0.75 + 0.25) / 2, q.distinct[0], 1e-12);
    CHECK_NEAR((1.0 / 3 + 1.0) / 2, q.repetition, 1e-12); /* a: 1/3, 4444: 1 */
    /* cut at an end of text (id 9): sample 1 is 1 1 2 (then 9), sample 2 all four 4s */
    const int32_t cutset[] = {1, 1, 2, 9, 4, 4, 4, 4};
    const int lengths[] = {3, 4};
    quality_measure_cut(&q, cutset, 2, 4, lengths, 9, ref, 4);
    CHECK_NEAR(3.5, q.length, 0);
    double h3 = -(2.0 / 3) * log2(2.0 / 3) - (1.0 / 3) * log2(1.0 / 3);
    CHECK_NEAR(h3 / 2, q.entropy, 1e-12);
    CHECK_NEAR((2.0 / 3 + 0.25) / 2, q.distinct[0], 1e-12);
    CHECK_NEAR((0.5 + 1.0) / 2, q.repetition, 1e-12); /* 1 1 2: 1/2 */
    /* the stream is 1 1 2 9 4 4 4 4: the same bigrams as the whole buffer here */
    CHECK_NEAR(quality_js(cutset, 8, ref, 4, 2), q.js2, 1e-12);
    /* the eot after a cut sample, never the positions after it */
    const int32_t cut2[] = {5, 9, 9, 9, 5, 6, 7, 8};
    const int len2[] = {1, 4};
    const int32_t stream[] = {5, 9, 5, 6, 7, 8};
    quality_measure_cut(&q, cut2, 2, 4, len2, 9, ref, 4);
    CHECK_NEAR(quality_js(stream, 6, ref, 4, 2), q.js2, 1e-12);
    CHECK_NEAR(2.5, q.length, 0);
    /* no lengths: quality_measure's */
    struct quality q2;
    quality_measure_cut(&q, set, 2, 4, NULL, 9, ref, 4);
    quality_measure(&q2, set, 2, 4, ref, 4);
    CHECK_NEAR(q2.entropy, q.entropy, 0);
    CHECK_NEAR(q2.js2, q.js2, 0);
    printf("%s: quality\n", check_failures ? "FAIL" : "ok");
    return check_failures != 0;
}
