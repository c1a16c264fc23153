/* test_main.c: libmodel's unit test program: runs the named tests (all without arguments)
 * and holds the shared helpers. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

int check_count, check_failures;

gsl_rng *test_rng(unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) {
        fprintf(stderr, "cannot allocate a gsl_rng\n");
        exit(1);
    }
    gsl_rng_set(r, seed);
    return r;
}

model *test_model(int V, int K, int d, int L, int H, int T, int causal, int threads,
                  unsigned long seed)
{
    model_settings s;
    model_default_settings(&s);
    s.config = (model_config){.vocab = V,
                              .n_mask = K,
                              .d = d,
                              .layers = L,
                              .heads = H,
                              .seq_len = T,
                              .causal = causal};
    s.threads = threads;
    gsl_rng *r = test_rng(seed);
    model *m = NULL;
    int rc = model_open(&m, &s, r);
    gsl_rng_free(r);
    if (rc) {
        fprintf(stderr, "model_open: %s: %s\n", model_strerror(rc), model_errmsg(m));
        exit(1);
    }
    return m;
}

void test_scale_params(model *m, double sd, unsigned long seed)
{
    gsl_rng *r = test_rng(seed);
    for (size_t i = 0; i < m->num_params; i++)
        m->params_mem[i] = (float)((gsl_rng_uniform(r) * 2.0 - 1.0) * sd * 1.7320508);
    gsl_rng_free(r);
}

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"grad-ops", test_grad_ops},
    {"grad-model", test_grad_model},
    {"fastmath", test_fastmath},
    {"subs", test_subs},
    {"causal", test_causal},
    {"prior", test_prior},
    {"adamw", test_adamw},
    {"lr", test_lr},
    {"checkpoint", test_checkpoint},
    {"determinism", test_determinism},
    {"sampler", test_sampler},
    {"errors", test_errors},
    {"blas", test_blas},
    {"train", test_train},
    {"layout", test_layout},
    {"errmsg", test_errmsg},
    {"strategy-names", test_strategy_names},
    {"atomic-file", test_atomic_file},
    {"defaults", test_defaults},
    {"positions", test_positions},
};

/* longer checks, run only when named (meson suite `slow`) */
static const struct {
    const char *name;
    void (*fn)(void);
} slow_tests[] = {
    {"sample-quality", test_sample_quality},
};

int main(int argc, char **argv)
{
    int ran = 0;
    /* tests that need something from outside (PyTorch, the shipped text): 77 skips */
    static const struct {
        const char *name;
        int (*fn)(void);
    } outside[] = {{"torch", test_torch}, {"text", test_text}};
    for (size_t i = 0; argc == 2 && i < sizeof outside / sizeof outside[0]; i++)
        if (!strcmp(argv[1], outside[i].name)) {
            if (outside[i].fn() == 77)
                return 77;
            printf("%s: %s\n", check_failures ? "FAIL" : "ok", outside[i].name);
            return check_failures ? 1 : 0;
        }
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int want = argc < 2;
        for (int a = 1; a < argc; a++)
            want |= !strcmp(argv[a], tests[i].name);
        if (!want)
            continue;
        int before = check_failures;
        tests[i].fn();
        printf("%s: %s\n", check_failures == before ? "ok" : "FAIL", tests[i].name);
        ran++;
    }
    for (size_t i = 0; i < sizeof slow_tests / sizeof slow_tests[0]; i++)
        for (int a = 1; a < argc; a++)
            if (!strcmp(argv[a], slow_tests[i].name)) {
                int before = check_failures;
                slow_tests[i].fn();
                printf("%s: %s\n", check_failures == before ? "ok" : "FAIL",
                       slow_tests[i].name);
                ran++;
            }
    if (!ran) {
        fprintf(stderr, "test_model: no test named");
        for (int a = 1; a < argc; a++)
            fprintf(stderr, " %s", argv[a]);
        fprintf(stderr, "\n");
        return 2;
    }
    return check_failures ? 1 : 0;
}
