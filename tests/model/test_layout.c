/* test_layout.c: the parameter, gradient, activation and scratch tables: each named pointer
 * gets a region of its documented shape, one after the other, none shifted onto another. */
#include "test.h"

#include <stdlib.h>

#include "model_internal.h"

typedef struct slot {
    const char *name;
    float *ptr;  /* where the table points the name */
    size_t size; /* floats, from the documented shape */
} slot;

/* The slots must tile [mem, mem + total) in the order given, each of its own size. */
static void check_tiling(const char *what, const slot *s, int n, const float *mem, size_t total)
{
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        CHECK(s[i].ptr == mem + off, "%s %s: expected offset %zu, got %td", what, s[i].name,
              off, s[i].ptr ? s[i].ptr - mem : -1);
        off += s[i].size;
    }
    CHECK(off == total, "%s: the documented shapes add up to %zu floats, the buffer has %zu",
          what, off, total);
}

static void check_params(const char *what, const param_tensors *t, const float *mem,
                         const model *m)
{
    const size_t V = 11, K = 2, C = 8, L = 2;
    const slot s[] = {
        {"wte", t->wte, (V + K) * C},
        {"ln1w", t->ln1w, L * C},
        {"ln1b", t->ln1b, L * C},
        {"qkvw", t->qkvw, L * 3 * C * C},
        {"qkvb", t->qkvb, L * 3 * C},
        {"attprojw", t->attprojw, L * C * C},
        {"attprojb", t->attprojb, L * C},
        {"ln2w", t->ln2w, L * C},
        {"ln2b", t->ln2b, L * C},
        {"fcw", t->fcw, L * 4 * C * C},
        {"fcb", t->fcb, L * 4 * C},
        {"fcprojw", t->fcprojw, L * C * 4 * C},
        {"fcprojb", t->fcprojb, L * C},
        {"lnfw", t->lnfw, C},
        {"lnfb", t->lnfb, C},
        {"wout", t->wout, V * C},
        {"bout", t->bout, V},
    };
    const int n = (int)(sizeof s / sizeof s[0]);
    CHECK_INT(NUM_PARAM_TENSORS, n);
    check_tiling(what, s, n, mem, m->num_params);
    for (int i = 0; i < n && i < NUM_PARAM_TENSORS; i++) {
        CHECK(m->param_sizes[i] == s[i].size, "%s %s: size %zu, expected %zu", what, s[i].name,
              m->param_sizes[i], s[i].size);
        CHECK_STR(s[i].name, model_param_names[i]);
    }
}

void test_layout(void)
{
    enum { V = 11, K = 2, C = 8, L = 2, H = 2, B = 3, T = 5, N = B * T };
    const int threads = 2;
    model *m = test_model(V, K, C, L, H, 6, 0, threads, 5);
    check_params("parameters", &m->params, m->params_mem, m);
    check_params("gradients", &m->grads, m->grads_mem, m);

    int32_t inp[N], tgt[N];
    for (int i = 0; i < N; i++) {
        tgt[i] = i % V;
        inp[i] = i % 3 ? tgt[i] : V + i % K;
    }
    float loss;
    CHECK_RC(m, model_forward(m, inp, tgt, NULL, B, T, &loss, NULL), MODEL_OK);
    const act_tensors *a = &m->acts;
    const slot s[] = {
        {"encoded", a->encoded, N * C},
        {"ln1", a->ln1, L * N * C},
        {"ln1_mean", a->ln1_mean, L * N},
        {"ln1_rstd", a->ln1_rstd, L * N},
        {"qkv", a->qkv, L * N * 3 * C},
        {"atty", a->atty, L * N * C},
        {"att", a->att, L * B * H * T * T},
        {"residual2", a->residual2, L * N * C},
        {"ln2", a->ln2, L * N * C},
        {"ln2_mean", a->ln2_mean, L * N},
        {"ln2_rstd", a->ln2_rstd, L * N},
        {"fch", a->fch, L * N * 4 * C},
        {"fch_gelu", a->fch_gelu, L * N * 4 * C},
        {"residual3", a->residual3, L * N * C},
        {"lnf", a->lnf, N * C},
        {"lnf_mean", a->lnf_mean, N},
        {"lnf_rstd", a->lnf_rstd, N},
        {"h", a->h, N * C},
        {"logits", a->logits, N * V},
        {"lse", a->lse, N},
    };
    const int n = (int)(sizeof s / sizeof s[0]);
    CHECK_INT(NUM_ACT_TENSORS, n);
    size_t total = 0;
    for (int i = 0; i < n && i < NUM_ACT_TENSORS; i++) {
        CHECK(m->act_sizes[i] == s[i].size, "activation %s: size %zu, expected %zu", s[i].name,
              m->act_sizes[i], s[i].size);
        total += m->act_sizes[i];
    }
    check_tiling("activations", s, n, m->acts_mem, total);
    CHECK(total <= m->acts_cap, "activations need %zu floats, the buffer holds %zu", total,
          m->acts_cap);

    const grad_scratch *g = &m->gs;
    const slot gs[] = {
        {"dres", g->dres, N * C},     {"dln", g->dln, N * C},
        {"datty", g->datty, N * C},   {"dqkv", g->dqkv, N * 3 * C},
        {"dfch", g->dfch, N * 4 * C}, {"datt", g->datt, (size_t)threads * T * T},
    };
    const int ng = (int)(sizeof gs / sizeof gs[0]);
    CHECK_INT(NUM_GRAD_SCRATCH, ng);
    total = 0;
    for (int i = 0; i < ng && i < NUM_GRAD_SCRATCH; i++) {
        CHECK(m->scratch_sizes[i] == gs[i].size, "scratch %s: size %zu, expected %zu",
              gs[i].name, m->scratch_sizes[i], gs[i].size);
        total += m->scratch_sizes[i];
    }
    check_tiling("scratch", gs, ng, m->scratch_mem, total);
    model_close(&m);
}
