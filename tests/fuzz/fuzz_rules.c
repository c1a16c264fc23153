/* fuzz_rules.c: importance and class rule files (the input's first byte picks the kind):
 * refused with "FILE:LINE: why", or a handle whose weights are finite and >= 0, whose types
 * are in range and whose corruption of a sample text is well formed. */
#include "fuzz_common.h"
#include "mask.h"

#include <math.h>
#include <string.h>

static const char sample[] = "In the beginning God created the heaven and the earth. 1:2\n"
                             "def f(x_1, y):\n\treturn x_1 * 42 + y  # caf\xc3\xa9 \xff\n"
                             "    s = \"a string\" if y else 'another'\n";
enum { N = sizeof sample - 1 };
static int32_t ids[N], offsets[N];
static gsl_rng *rng;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    for (int i = 0; i < N; i++) {
        ids[i] = (uint8_t)sample[i];
        offsets[i] = i;
    }
    rng = gsl_rng_alloc(gsl_rng_mt19937);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    mask_rules_kind kind = data[0] & 1 ? MASK_RULES_CLASS : MASK_RULES_IMPORTANCE;
    char path[512];
    snprintf(path, sizeof path, "%s", fuzz_write("in.rules", data + 1, size - 1));
    char err[1024] = "";
    int nrules = -1;
    int rc = mask_rules_check(path, kind, &nrules, err, sizeof err);
    if (rc) {
        FUZZ_CHECK((rc == MASK_E_RULES || rc == MASK_E_IO) && !strncmp(err, path, strlen(path)),
                   "refused with %s: '%s' (expected FILE:LINE: why)", mask_strerror(rc), err);
        return 0;
    }
    FUZZ_CHECK(nrules >= 0, "%d rules", nrules);
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = 256;
    if (kind == MASK_RULES_CLASS) {
        s.types = MASK_TYPES_CLASS;
        s.class_rules = path;
    } else {
        s.types = MASK_TYPES_IMPORTANCE;
        s.importance = MASK_IMPORTANCE_RULES;
        s.importance_rules = path;
        s.importance_mode =
            data[0] & 2 ? MASK_IMPORTANCE_SCHEDULE : MASK_IMPORTANCE_WEIGHT_LOSS;
        s.structure = data[0] & 4 ? MASK_STRUCT_REGEX : MASK_STRUCT_TOKEN;
        s.regex = "words";
    }
    mask *m = NULL;
    rc = mask_open(&m, &s);
    FUZZ_CHECK(rc == 0, "a checked rule file does not open: %s", m ? mask_errmsg(m) : "");
    int K = mask_n_types(m);
    FUZZ_CHECK(K >= 1 && K <= 127, "K = %d", K);
    mask_seq seq = {.ids = ids, .n = N, .text = sample, .text_len = N, .offsets = offsets};
    float w[N];
    if (kind == MASK_RULES_IMPORTANCE) {
        FUZZ_CHECK(mask_importance(m, &seq, w) == 0, "importance: %s", mask_errmsg(m));
        for (int i = 0; i < N; i++)
            FUZZ_CHECK(isfinite(w[i]) && w[i] >= 0, "token %d: importance %g", i, (double)w[i]);
    }
    int32_t out_ids[N];
    uint8_t masked[N];
    float weight[N];
    int8_t type[N];
    mask_out out = {out_ids, masked, weight, type, 0, NULL, NULL};
    gsl_rng_set(rng, size);
    for (int j = 0; j < 3; j++) {
        double t = (j + 0.5) / 3;
        rc = mask_corrupt(m, &seq, t, rng, &out);
        FUZZ_CHECK(rc == 0 || rc == MASK_E_WEIGHT || rc == MASK_E_NUMERIC, "corrupt: %s",
                   mask_errmsg(m));
        for (int i = 0; rc == 0 && i < N; i++) {
            FUZZ_CHECK(masked[i] ? type[i] >= 0 && type[i] < K && out_ids[i] == 256 + type[i]
                                 : type[i] == -1 && out_ids[i] == ids[i] && weight[i] == 0,
                       "token %d: masked %d, type %d, id %d", i, masked[i], type[i],
                       out_ids[i]);
            FUZZ_CHECK(isfinite(weight[i]) && weight[i] >= 0, "token %d: weight %g", i,
                       (double)weight[i]);
        }
    }
    mask_close(&m);
    return 0;
}
