/* test_main.c: libmodel's unit test program: runs the named tests (all without arguments)
 * and holds the shared helpers. */
#include "test.h"

#include <math.h>
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

uint32_t test_crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

unsigned char *test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*len + 1);
    if (b && fread(b, 1, *len, f) != *len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

int test_load_bytes(const char *path, unsigned char *buf, size_t len, int fix_crc, char *msg,
                    size_t n)
{
    if (fix_crc && len >= 32) {
        uint32_t crc = test_crc32(buf + 32, len - 32);
        memcpy(buf + 24, &crc, 4);
    }
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, len, f);
        fclose(f);
    }
    model *m = NULL;
    int rc = model_load(&m, path, 1, NULL);
    snprintf(msg, n, "%s", model_errmsg(m));
    model_close(&m);
    return rc;
}

model *test_model_config(model_config c, int threads, unsigned long seed)
{
    model_settings s;
    model_default_settings(&s);
    s.config = c;
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

model *test_model(int V, int K, int d, int L, int H, int T, int mode, int threads,
                  unsigned long seed)
{
    return test_model_config((model_config){.vocab = V,
                                            .n_mask = K,
                                            .d = d,
                                            .layers = L,
                                            .heads = H,
                                            .seq_len = T,
                                            .mode = mode},
                             threads, seed);
}

void test_scale_params(model *m, double sd, unsigned long seed)
{
    gsl_rng *r = test_rng(seed);
    for (size_t i = 0; i < m->num_params; i++)
        m->params_mem[i] = (float)((gsl_rng_uniform(r) * 2.0 - 1.0) * sd * 1.7320508);
    gsl_rng_free(r);
}

void chain_fixture_init(chain_fixture *f, int V, int K)
{
    memset(f, 0, sizeof *f);
    f->V = V;
    f->K = K;
    f->D1 = (V + 2) / 3;
    f->D2 = (f->D1 + 2) / 3;
    f->D = f->D1 + f->D2;
    const int32_t VK = V + K;
    int n = 0;
    for (int e = 0; e < f->D1; e++) { /* stage 1: the tokens v with v / 3 = e */
        f->start[e] = n;
        for (int v = 0; v < V; v++)
            if (v / 3 == e)
                f->members[n++] = v;
    }
    for (int e = 0; e < f->D2; e++) { /* stage 2: the tokens v with v / 9 = e */
        f->start[f->D1 + e] = n;
        for (int v = 0; v < V; v++)
            if (v / 9 == e)
                f->members[n++] = v;
    }
    f->start[f->D] = n;
    for (int v = 0; v < V; v++) {
        f->d1[v] = VK + v / 3;
        f->d2[v] = VK + f->D1 + v / 9;
    }
    f->stage_first[0] = VK;
    f->stage_first[1] = VK + f->D1;
    f->stage_first[2] = VK + f->D;
    f->describe[0] = f->d1;
    f->describe[1] = f->d2;
    f->chain =
        (model_chain){.length = 2, .stage_first = f->stage_first, .describe = f->describe};
}

int chain_fixture_level(const chain_fixture *f, int32_t id)
{
    if (id < f->V)
        return 0;
    if (id < f->V + f->K)
        return 3;
    return id < f->stage_first[1] ? 1 : 2;
}

int chain_fixture_holds(const chain_fixture *f, int32_t id, int32_t x)
{
    switch (chain_fixture_level(f, id)) {
    case 0:
        return id == x;
    case 1:
        return f->d1[x] == id;
    case 2:
        return f->d2[x] == id;
    default:
        return 1;
    }
}

model *chain_model(const chain_fixture *f, int d, int L, int H, int T, int threads,
                   unsigned long seed)
{
    model_settings s;
    model_default_settings(&s);
    s.config = (model_config){.vocab = f->V,
                              .n_mask = f->K,
                              .d = d,
                              .layers = L,
                              .heads = H,
                              .seq_len = T,
                              .n_desc = f->D};
    s.threads = threads;
    gsl_rng *r = test_rng(seed);
    model *m = NULL;
    int rc = model_open(&m, &s, r);
    gsl_rng_free(r);
    if (!rc)
        rc = model_set_layout(m, f->start, f->members);
    if (rc) {
        fprintf(stderr, "chain_model: %s: %s\n", model_strerror(rc), model_errmsg(m));
        exit(1);
    }
    return m;
}

void chain_kernel(int mm, double gamma, double p_s, double p_t, double *kernel)
{
    const int W = mm + 2;
    double Fs[W + 1], Ft[W + 1]; /* F_0 = 1, F_l = p^(a_l), F_{m+2} = 0 */
    Fs[0] = Ft[0] = 1.0;
    Fs[W] = Ft[W] = 0.0;
    for (int l = 1; l <= mm + 1; l++) {
        double a = pow(gamma, mm + 1 - l);
        Fs[l] = pow(p_s, a);
        Ft[l] = pow(p_t, a);
    }
    for (int l = 0; l < W; l++) {
        double P = Ft[l] - Ft[l + 1];
        for (int j = 0; j < W; j++) {
            double lo = fmax(Fs[j + 1], Ft[l + 1]), hi = fmin(Fs[j], Ft[l]);
            kernel[l * W + j] = P > 0 ? fmax(0.0, hi - lo) / P : j == l;
        }
    }
}

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"grad-ops", test_grad_ops},
    {"grad-model", test_grad_model},
    {"grad-block", test_grad_block},
    {"block-modes", test_block_modes},
    {"block-checkpoint", test_block_checkpoint},
    {"block-errors", test_block_errors},
    {"cache", test_cache},
    {"cache-sampler", test_cache_sampler},
    {"sampler-strategies", test_sampler_strategies},
    {"fastmath", test_fastmath},
    {"gemm-head", test_gemm_head},
    {"classifier-panels", test_classifier_panels},
    {"subs", test_subs},
    {"causal", test_causal},
    {"prior", test_prior},
    {"adamw", test_adamw},
    {"lr", test_lr},
    {"checkpoint", test_checkpoint},
    {"determinism", test_determinism},
    {"isa", test_isa},
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
    {"chain-outputs", test_chain_outputs},
    {"chain-flat", test_chain_flat},
    {"chain-errors", test_chain_errors},
    {"chain-checkpoint", test_chain_checkpoint},
    {"chain-sampler", test_chain_sampler},
    {"chain-confidence", test_chain_confidence},
    {"chain-trained", test_chain_trained},
    {"score-argmax", test_score_argmax},
    {"score-rows", test_score_rows},
    {"eot", test_eot},
    {"varlen-sampler", test_varlen_sampler},
    {"edit-outputs", test_edit_outputs},
    {"edit-errors", test_edit_errors},
    {"edit-adapter", test_edit_adapter},
    {"edit-checkpoint", test_edit_checkpoint},
    {"grad-edit", test_grad_edit},
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
