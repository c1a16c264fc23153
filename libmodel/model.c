/* model.c: the model handle's lifecycle: config checks, the one parameter buffer and its
 * pointer table, initialization from a gsl_rng, the prior, errors and getters. */
#include "model_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>

#include "layers.h"

const char *const model_param_names[NUM_PARAM_TENSORS] = {
    [P_WTE] = "wte",           [P_LN1W] = "ln1w", [P_LN1B] = "ln1b",
    [P_QKVW] = "qkvw",         [P_QKVB] = "qkvb", [P_ATTPROJW] = "attprojw",
    [P_ATTPROJB] = "attprojb", [P_LN2W] = "ln2w", [P_LN2B] = "ln2b",
    [P_FCW] = "fcw",           [P_FCB] = "fcb",   [P_FCPROJW] = "fcprojw",
    [P_FCPROJB] = "fcprojb",   [P_LNFW] = "lnfw", [P_LNFB] = "lnfb",
    [P_WOUT] = "wout",         [P_BOUT] = "bout",
};

/* Where each tensor's pointer lives in param_tensors, by name. */
static const size_t param_offset[NUM_PARAM_TENSORS] = {
    [P_WTE] = offsetof(param_tensors, wte),
    [P_LN1W] = offsetof(param_tensors, ln1w),
    [P_LN1B] = offsetof(param_tensors, ln1b),
    [P_QKVW] = offsetof(param_tensors, qkvw),
    [P_QKVB] = offsetof(param_tensors, qkvb),
    [P_ATTPROJW] = offsetof(param_tensors, attprojw),
    [P_ATTPROJB] = offsetof(param_tensors, attprojb),
    [P_LN2W] = offsetof(param_tensors, ln2w),
    [P_LN2B] = offsetof(param_tensors, ln2b),
    [P_FCW] = offsetof(param_tensors, fcw),
    [P_FCB] = offsetof(param_tensors, fcb),
    [P_FCPROJW] = offsetof(param_tensors, fcprojw),
    [P_FCPROJB] = offsetof(param_tensors, fcprojb),
    [P_LNFW] = offsetof(param_tensors, lnfw),
    [P_LNFB] = offsetof(param_tensors, lnfb),
    [P_WOUT] = offsetof(param_tensors, wout),
    [P_BOUT] = offsetof(param_tensors, bout),
};

int model_param_is_layered(int i)
{
    return i >= P_LN1W && i <= P_FCPROJB;
}

int model_param_decays(int i)
{
    switch (i) {
    case P_WTE:
    case P_QKVW:
    case P_ATTPROJW:
    case P_FCW:
    case P_FCPROJW:
    case P_WOUT:
        return 1;
    default:
        return 0;
    }
}

void model_default_settings(model_settings *s)
{
    *s = (model_settings){
        .config = {.vocab = 256,
                   .n_mask = 1,
                   .d = 128,
                   .layers = 4,
                   .heads = 4,
                   .seq_len = 128,
                   .mode = MODEL_DIFFUSION,
                   .block = 0,
                   .n_desc = 0,
                   .n_edit = 0},
        .threads = 0,
    };
}

void model_default_optim(model_optim *o)
{
    *o = (model_optim){.lr = 3e-3f,
                       .min_lr = 3e-4f,
                       .beta1 = 0.9f,
                       .beta2 = 0.95f,
                       .eps = 1e-8f,
                       .weight_decay = 0.1f,
                       .grad_clip = 1.0f,
                       .warmup_steps = 100,
                       .total_steps = 10000};
}

void model_default_sample_settings(model_sample_settings *s)
{
    *s = (model_sample_settings){.strategy = MODEL_SAMPLE_CONFIDENCE,
                                 .steps = 64,
                                 .block_len = 32,
                                 .temperature = 0.0f,
                                 .top_p = 0.0f,
                                 .cache = MODEL_CACHE_EXACT,
                                 .threshold = 0.9f,
                                 .remdm_schedule = MODEL_REMDM_CAP,
                                 .eta = 0.02f,
                                 .t_on = 0.55f,
                                 .t_off = 0.05f,
                                 .alpha_on = 0.9f,
                                 .eot = -1};
}

const char *model_strerror(int rc)
{
    switch (rc) {
    case MODEL_OK:
        return "ok";
    case MODEL_EINVAL:
        return "invalid argument";
    case MODEL_ERANGE:
        return "token id out of range";
    case MODEL_ENOMEM:
        return "out of memory";
    case MODEL_EIO:
        return "input/output error";
    case MODEL_EFORMAT:
        return "not a valid model checkpoint";
    case MODEL_ENONFINITE:
        return "non-finite value (NaN or Inf)";
    case MODEL_ESTATE:
        return "call out of order";
    default:
        return "unknown error";
    }
}

int model_fail(model *m, int rc, const char *fmt, ...)
{
    if (m) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->errmsg, sizeof m->errmsg, fmt, ap);
        va_end(ap);
        m->errcode = rc;
    }
    return rc;
}

int model_fail_new(model **out, int rc, const char *fmt, ...)
{
    model *m = calloc(1, sizeof *m);
    *out = m;
    if (m) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->errmsg, sizeof m->errmsg, fmt, ap);
        va_end(ap);
        m->errcode = rc;
    }
    return rc;
}

const char *model_errmsg(const model *m)
{
    if (!m)
        return "no model handle";
    return m->errmsg[0] ? m->errmsg : model_strerror(m->errcode);
}

const model_config *model_get_config(const model *m)
{
    return &m->cfg;
}

size_t model_num_params(const model *m)
{
    return m->num_params;
}

long model_calls(const model *m)
{
    return m ? m->calls : 0;
}

long model_step(const model *m)
{
    return m->step;
}

static const char *const mode_names[MODEL_MODE_COUNT] = {
    [MODEL_DIFFUSION] = "diffusion", [MODEL_AR] = "ar", [MODEL_BLOCK] = "block"};

const char *model_mode_name(int mode)
{
    return mode >= 0 && mode < MODEL_MODE_COUNT ? mode_names[mode] : NULL;
}

int model_mode_parse(const char *name, int *mode, char *err, size_t errlen)
{
    for (int i = 0; name && i < MODEL_MODE_COUNT; i++)
        if (!strcmp(name, mode_names[i])) {
            *mode = i;
            return MODEL_OK;
        }
    if (err && errlen > 0)
        snprintf(err, errlen, "unknown mode '%s' (diffusion, ar, block)",
                 name ? name : "(null)");
    return MODEL_EINVAL;
}

int model_expect_mode(model *m, int mode, int block)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    const model_config *c = &m->cfg;
    if (c->mode == mode && (mode != MODEL_BLOCK || c->block == block))
        return MODEL_OK;
    char have[48], want[48];
    snprintf(have, sizeof have, c->mode == MODEL_BLOCK ? "%s (block %d)" : "%s",
             model_mode_name(c->mode), c->block);
    if (mode == MODEL_BLOCK)
        snprintf(want, sizeof want, "block (block %d)", block);
    else
        snprintf(want, sizeof want, "%s", model_mode_name(mode) ? model_mode_name(mode) : "?");
    return model_fail(m, MODEL_EINVAL, "the model is %s %s model, not %s",
                      c->mode == MODEL_AR ? "an" : "a", have, want);
}

int model_check_config(const model_config *c, char *msg, size_t len)
{
    const long limit = 1L << 24;
    if (c->vocab < 1 || c->vocab > limit || c->n_mask < 1 || c->n_mask > 65536) {
        snprintf(msg, len,
                 "vocab %d and n_mask %d must be >= 1 (vocab <= %ld, n_mask <= 65536)",
                 c->vocab, c->n_mask, limit);
        return MODEL_EINVAL;
    }
    if (c->d < 1 || c->d > 65536 || c->layers < 1 || c->layers > 1024 || c->heads < 1 ||
        c->seq_len < 1 || c->seq_len > 1 << 20) {
        snprintf(msg, len, "d %d, layers %d, heads %d, seq_len %d: each must be >= 1 and sane",
                 c->d, c->layers, c->heads, c->seq_len);
        return MODEL_EINVAL;
    }
    if (c->d % c->heads != 0) {
        snprintf(msg, len, "d %d is not divisible by heads %d", c->d, c->heads);
        return MODEL_EINVAL;
    }
    if (!model_mode_name(c->mode)) {
        snprintf(msg, len, "mode %d is none of 0 (diffusion), 1 (ar), 2 (block)", c->mode);
        return MODEL_EINVAL;
    }
    if (c->mode == MODEL_BLOCK && (c->block < 1 || c->seq_len % c->block != 0)) {
        snprintf(msg, len, "block %d must be >= 1 and divide seq_len %d", c->block, c->seq_len);
        return MODEL_EINVAL;
    }
    if (c->mode != MODEL_BLOCK && c->block != 0) {
        snprintf(msg, len, "block %d: only the block mode has blocks (mode %s)", c->block,
                 model_mode_name(c->mode));
        return MODEL_EINVAL;
    }
    if (c->n_desc < 0 || c->n_desc > limit) {
        snprintf(msg, len, "n_desc %d must be in 0..%ld", c->n_desc, limit);
        return MODEL_EINVAL;
    }
    if (c->n_desc > 0 && c->mode == MODEL_AR) {
        snprintf(msg, len, "n_desc %d: descriptions need a denoiser (mode diffusion or block)",
                 c->n_desc);
        return MODEL_EINVAL;
    }
    if (c->n_edit != 0 && c->n_edit != 2) {
        snprintf(msg, len, "n_edit %d must be 0 or 2 ([expand] and [delete])", c->n_edit);
        return MODEL_EINVAL;
    }
    if (c->n_edit && (c->mode != MODEL_DIFFUSION || c->n_desc != 0)) {
        snprintf(msg, len,
                 "n_edit %d: edit classes need a diffusion model without descriptions (mode "
                 "%s, n_desc %d)",
                 c->n_edit, model_mode_name(c->mode), c->n_desc);
        return MODEL_EINVAL;
    }
    return MODEL_OK;
}

size_t model_param_layout(const model_config *c, size_t s[NUM_PARAM_TENSORS])
{
    size_t V = (size_t)c->vocab, K = (size_t)c->n_mask, C = (size_t)c->d;
    size_t L = (size_t)c->layers, D = (size_t)c->n_desc, E = (size_t)c->n_edit;
    s[P_WTE] = (V + K + D + E) * C;
    s[P_LN1W] = L * C;
    s[P_LN1B] = L * C;
    s[P_QKVW] = L * 3 * C * C;
    s[P_QKVB] = L * 3 * C;
    s[P_ATTPROJW] = L * C * C;
    s[P_ATTPROJB] = L * C;
    s[P_LN2W] = L * C;
    s[P_LN2B] = L * C;
    s[P_FCW] = L * 4 * C * C;
    s[P_FCB] = L * 4 * C;
    s[P_FCPROJW] = L * C * 4 * C;
    s[P_FCPROJB] = L * C;
    s[P_LNFW] = C;
    s[P_LNFB] = C;
    s[P_WOUT] = (V + E) * C;
    s[P_BOUT] = V + E;
    size_t total = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++)
        total += s[i];
    return total;
}

void model_point_params(param_tensors *t, float *mem, const size_t s[NUM_PARAM_TENSORS])
{
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        *(float **)((char *)t + param_offset[i]) = mem;
        mem += s[i];
    }
}

int model_alloc(model **out, const model_config *c, int threads)
{
    *out = NULL;
    model *m = calloc(1, sizeof *m);
    if (!m)
        return MODEL_ENOMEM;
    *out = m;
    m->cfg = *c;
    char msg[sizeof m->errmsg];
    int rc = model_check_config(c, msg, sizeof msg);
    if (rc)
        return model_fail(m, rc, "%s", msg);
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n < 1 ? 1 : (int)(n > 64 ? 64 : n);
    }
    if (threads > 64)
        threads = 64;
    m->threads = threads;
    model_init_blas();
    if (model_pool_open(&m->pool, threads) != 0)
        return model_fail(m, MODEL_ENOMEM, "cannot start %d threads", threads);
    m->num_params = model_param_layout(c, m->param_sizes);
    m->params_mem = model_alloc_floats(m->num_params);
    m->grads_mem = model_zeroed_floats(m->num_params);
    int hs = c->d / c->heads;
    m->rope = malloc(((size_t)c->seq_len * (size_t)(hs / 2) * 2 + 1) * sizeof(float));
    if (!m->params_mem || !m->grads_mem || !m->rope)
        return model_fail(m, MODEL_ENOMEM, "cannot allocate %zu parameters", m->num_params);
    model_rope_table(m->rope, c->seq_len, hs);
    model_point_params(&m->params, m->params_mem, m->param_sizes);
    model_point_params(&m->grads, m->grads_mem, m->param_sizes);
    return MODEL_OK;
}

int model_open(model **out, const model_settings *s, gsl_rng *rng)
{
    *out = NULL;
    if (!s || !rng)
        return model_fail_new(out, MODEL_EINVAL, "open: no %s", !s ? "settings" : "gsl_rng");
    int rc = model_alloc(out, &s->config, s->threads);
    if (rc)
        return rc;
    model *m = *out;
    const model_config *c = &m->cfg;
    float *mem = m->params_mem;
    double resid_sd = 0.02 / sqrt(2.0 * c->layers);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        size_t n = m->param_sizes[i];
        if (i == P_LN1W || i == P_LN2W || i == P_LNFW) {
            for (size_t j = 0; j < n; j++)
                mem[j] = 1.0f;
        } else if (model_param_decays(i)) {
            double sd = i == P_ATTPROJW || i == P_FCPROJW ? resid_sd : 0.02;
            for (size_t j = 0; j < n; j++)
                mem[j] = (float)gsl_ran_gaussian_ziggurat(rng, sd);
        } else {
            memset(mem, 0, n * sizeof *mem);
        }
        mem += n;
    }
    return MODEL_OK;
}

void model_close(model **pm)
{
    if (!pm || !*pm)
        return;
    model *m = *pm;
    model_pool_close(&m->pool);
    free(m->params_mem);
    free(m->grads_mem);
    free(m->m_mem);
    free(m->v_mem);
    free(m->prior);
    free(m->rope);
    free(m->acts_mem);
    free(m->scratch_mem);
    free(m->inputs);
    free(m->targets);
    free(m->scale);
    free(m->dscale);
    free(m->rows);
    free(m->row_of);
    free(m->row_off);
    free(m->tlse);
    free(m->row_amax);
    free(m->grp_desc);
    free(m->grp_first);
    model_layout_free(m);
    free(m);
    *pm = NULL;
}

int model_set_prior(model *m, const float *log_prior)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    size_t n = (size_t)m->cfg.n_mask * m->cfg.vocab;
    if (!log_prior) {
        free(m->prior);
        m->prior = NULL;
        return MODEL_OK;
    }
    for (size_t i = 0; i < n; i++)
        if (isnan(log_prior[i]) || log_prior[i] == INFINITY)
            return model_fail(m, MODEL_EINVAL, "log-prior of mask type %zu, id %zu is %g",
                              i / m->cfg.vocab, i % m->cfg.vocab, (double)log_prior[i]);
    if (!m->prior) {
        m->prior = malloc(n * sizeof(float));
        if (!m->prior)
            return model_fail(m, MODEL_ENOMEM, "cannot allocate the prior");
    }
    memcpy(m->prior, log_prior, n * sizeof(float));
    return MODEL_OK;
}

void model_layout_free(model *m)
{
    free(m->lay_start);
    free(m->lay_members);
    free(m->lay_order);
    free(m->lay_rank);
    free(m->lay_colour);
    free(m->lay_count);
    free(m->lay_scratch);
    m->lay_start = m->lay_members = m->lay_order = m->lay_rank = m->lay_colour = NULL;
    m->lay_count = NULL;
    m->lay_scratch = NULL;
    m->lay_colours = m->lay_max = 0;
    m->lay_stride = 0;
}

int model_layout_install(model *m, const int32_t *start, const int32_t *members)
{
    const int D = m->cfg.n_desc, V = m->cfg.vocab;
    if (D < 1)
        return model_fail(m, MODEL_EINVAL, "layout: the model has no descriptions (n_desc 0)");
    if (start[0] != 0)
        return model_fail(m, MODEL_EINVAL, "layout: start[0] is %d, not 0", start[0]);
    for (int e = 0; e < D; e++)
        if (start[e + 1] < start[e] || start[e + 1] > (1 << 28))
            return model_fail(m, MODEL_EINVAL,
                              "layout: start[%d] = %d after start[%d] = %d (must not "
                              "decrease, at most 2^28)",
                              e + 1, start[e + 1], e, start[e]);
    const size_t total = (size_t)start[D];
    int most = 0;
    for (int e = 0; e < D; e++) {
        int n = start[e + 1] - start[e];
        most = n > most ? n : most;
        for (int i = start[e]; i < start[e + 1]; i++) {
            if (members[i] < 0 || members[i] >= V)
                return model_fail(m, MODEL_EINVAL,
                                  "layout: description %d has member %d, outside 0..%d", e,
                                  members[i], V - 1);
            if (i > start[e] && members[i] <= members[i - 1])
                return model_fail(m, MODEL_EINVAL,
                                  "layout: description %d's members are not increasing (%d "
                                  "after %d)",
                                  e, members[i], members[i - 1]);
        }
    }
    model_layout_free(m);
    const size_t C = (size_t)m->cfg.d;
    m->lay_stride = (2 * (size_t)most * C + 2 * (size_t)most + 15) / 16 * 16;
    m->lay_start = malloc(((size_t)D + 1) * sizeof(int32_t));
    m->lay_members = malloc((total ? total : 1) * sizeof(int32_t));
    m->lay_order = malloc((size_t)D * sizeof(int32_t));
    m->lay_rank = malloc((size_t)D * sizeof(int32_t));
    m->lay_colour = malloc((size_t)D * sizeof(int32_t));
    m->lay_count = malloc(((size_t)D + 1) * sizeof(int32_t));
    m->lay_scratch = m->lay_stride
                         ? aligned_alloc(64, (size_t)m->threads * m->lay_stride * sizeof(float))
                         : NULL;
    int32_t *last = malloc((size_t)V * sizeof(int32_t));
    if (!m->lay_start || !m->lay_members || !m->lay_order || !m->lay_rank || !m->lay_colour ||
        !m->lay_count || (m->lay_stride && !m->lay_scratch) || !last) {
        free(last);
        model_layout_free(m);
        return model_fail(m, MODEL_ENOMEM, "layout: cannot allocate %zu members", total);
    }
    memcpy(m->lay_start, start, ((size_t)D + 1) * sizeof(int32_t));
    memcpy(m->lay_members, members, total * sizeof(int32_t));
    m->lay_max = most;
    /* colours: each description one above the last colour of any of its members, so the
     * descriptions holding a token get increasing colours (a chain: stage l is colour l-1) */
    for (int v = 0; v < V; v++)
        last[v] = -1;
    int colours = 0;
    for (int e = 0; e < D; e++) {
        int c = 0;
        for (int i = start[e]; i < start[e + 1]; i++)
            c = last[members[i]] + 1 > c ? last[members[i]] + 1 : c;
        for (int i = start[e]; i < start[e + 1]; i++)
            last[members[i]] = c;
        m->lay_colour[e] = c;
        colours = c + 1 > colours ? c + 1 : colours;
    }
    free(last);
    m->lay_colours = colours;
    /* order by (colour, id): a counting sort */
    int32_t *first = calloc((size_t)colours + 1, sizeof(int32_t));
    if (!first) {
        model_layout_free(m);
        return model_fail(m, MODEL_ENOMEM, "layout: out of memory");
    }
    for (int e = 0; e < D; e++)
        first[m->lay_colour[e] + 1]++;
    for (int c = 0; c < colours; c++)
        first[c + 1] += first[c];
    for (int e = 0; e < D; e++) {
        int r = first[m->lay_colour[e]]++;
        m->lay_order[r] = e;
        m->lay_rank[e] = r;
    }
    free(first);
    return MODEL_OK;
}

int model_set_layout(model *m, const int32_t *start, const int32_t *members)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    if (!start != !members)
        return model_fail(m, MODEL_EINVAL, "layout: %s without %s", start ? "start" : "members",
                          start ? "members" : "start");
    m->have_forward = 0; /* the last forward's rows point into the layout in force */
    if (!start) {
        model_layout_free(m);
        return MODEL_OK;
    }
    return model_layout_install(m, start, members);
}

int model_get_layout(const model *m, const int32_t **start, const int32_t **members)
{
    int have = m && m->lay_start;
    if (start)
        *start = have ? m->lay_start : NULL;
    if (members)
        *members = have ? m->lay_members : NULL;
    return have;
}

float model_carry_logprob(const model *m, int32_t input, int32_t target)
{
    if (model_is_edit(m, target))
        return -INFINITY;
    if (target < m->cfg.vocab)
        return input == target ? 0.0f : -INFINITY;
    int n;
    const int32_t *mem = model_members(m, target, &n);
    return model_find(mem, n, input) >= 0 ? 0.0f : -INFINITY;
}

long model_first_nonfinite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return (long)i;
    return -1;
}
