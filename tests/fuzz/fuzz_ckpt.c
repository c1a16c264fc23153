/* fuzz_ckpt.c: model checkpoints: the loader refuses a file with a reason or gives a model
 * that scores and samples without misbehaving and saves back to the same bytes. The input's
 * length and CRC fields are recomputed (unless bit 0 of its flags byte is set), so that the
 * fuzzer reaches what lies behind the checksum; its metadata is read as a config. Fresh
 * checkpoints in this build's format are made at start: checked against past defects, and
 * written as seeds to $FUZZ_SEED_DIR when set (tests/fuzz/run.sh sets it). */
#include "config.h"
#include "fuzz_common.h"
#include "model.h"

#include <math.h>
#include <string.h>

enum { HEADER = 32 };

static gsl_rng *rng;

/* CRC-32 as zlib computes it (the checkpoint's checksum) */
static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

static const char meta[] =
    "[model]\nd = 8\nlayers = 2\nheads = 2\nseq_len = 8\n; fuzz-marker\n";

/* A tiny model (prior and optimizer state as asked) saved as `name` in the scratch folder;
 * returns the file's bytes. */
static uint8_t *fresh(const char *name, int prior, int optim, size_t *n)
{
    model_settings s;
    model_default_settings(&s);
    s.config =
        (model_config){.vocab = 13, .n_mask = 2, .d = 8, .layers = 2, .heads = 2, .seq_len = 8};
    s.threads = 1;
    gsl_rng_set(rng, 5);
    model *m = NULL;
    FUZZ_CHECK(model_open(&m, &s, rng) == 0, "model_open: %s", m ? model_errmsg(m) : "");
    float lp[2 * 13];
    for (int i = 0; i < 2 * 13; i++)
        lp[i] = -(float)(i % 7) / 3;
    FUZZ_CHECK(!prior || model_set_prior(m, lp) == 0, "prior: %s", model_errmsg(m));
    if (optim) {
        int32_t in[8] = {1, 13, 2, 14, 3, 13, 4, 5}, tg[8] = {1, 7, 2, 8, 3, 9, 4, 5};
        float loss;
        model_optim o;
        model_default_optim(&o);
        FUZZ_CHECK(model_zero_grad(m) == 0 &&
                       model_forward(m, in, tg, NULL, 1, 8, &loss, NULL) == 0 &&
                       model_backward(m) == 0 && model_update(m, &o, NULL) == 0,
                   "a training step: %s", model_errmsg(m));
    }
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    FUZZ_CHECK(model_save(m, path, meta, optim) == 0, "save: %s", model_errmsg(m));
    model_close(&m);
    uint8_t *buf = fuzz_read(path, n);
    FUZZ_CHECK(buf, "cannot read back %s", path);
    return buf;
}

/* A NUL byte in the metadata (length and CRC still right) is refused, not cut short. */
static void check_metadata_nul(const uint8_t *ckpt, size_t n)
{
    uint8_t *bad = malloc(n);
    memcpy(bad, ckpt, n);
    uint8_t *at = NULL;
    for (size_t i = HEADER; !at && i + 11 <= n; i++)
        if (!memcmp(bad + i, "fuzz-marker", 11))
            at = bad + i;
    FUZZ_CHECK(at, "the metadata is not in the checkpoint");
    at[4] = 0;
    uint32_t crc = crc32(bad + HEADER, n - HEADER);
    memcpy(bad + 24, &crc, 4);
    model *m = NULL;
    char *got = NULL;
    int rc = model_load(&m, fuzz_write("nul.ckpt", bad, n), 1, &got);
    FUZZ_CHECK(rc == MODEL_EFORMAT && strstr(model_errmsg(m), "NUL"),
               "metadata with a NUL byte: %s (%s)", model_strerror(rc), model_errmsg(m));
    model_close(&m);
    free(bad);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    rng = gsl_rng_alloc(gsl_rng_mt19937);
    static const struct {
        const char *name;
        int prior, optim;
    } kinds[] = {
        {"fresh-plain.ckpt", 0, 0}, {"fresh-prior.ckpt", 1, 0}, {"fresh-optim.ckpt", 1, 1}};
    const char *seeds = getenv("FUZZ_SEED_DIR");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t n;
        uint8_t *buf = fresh(kinds[i].name, kinds[i].prior, kinds[i].optim, &n);
        if (i == 0)
            check_metadata_nul(buf, n);
        if (seeds && *seeds) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", seeds, kinds[i].name);
            FILE *f = fopen(path, "wb");
            FUZZ_CHECK(f && fwrite(buf, 1, n, f) == n && fclose(f) == 0, "cannot write %s",
                       path);
        }
        free(buf);
    }
    return 0;
}

/* Scores and samples a few positions: a clean result or a named non-finite value. */
static void use(model *m)
{
    const model_config *c = model_get_config(m);
    FUZZ_CHECK(c->vocab >= 1 && c->n_mask >= 1 && c->d >= 1 && c->heads >= 1 &&
                   c->d % c->heads == 0 && c->layers >= 1 && c->seq_len >= 1,
               "loaded config V %d K %d d %d H %d L %d T %d", c->vocab, c->n_mask, c->d,
               c->heads, c->layers, c->seq_len);
    if (model_num_params(m) > 2000000)
        return;
    int T = c->seq_len < 8 ? c->seq_len : 8;
    int32_t in[8], tg[8];
    float lp[8];
    for (int t = 0; t < T; t++) {
        tg[t] = (int32_t)((t * 7u) % (unsigned)c->vocab);
        in[t] = t % 2 ? c->vocab + t % c->n_mask : tg[t];
    }
    int rc = model_score(m, in, tg, 1, T, lp);
    FUZZ_CHECK(rc == 0 || rc == MODEL_ENONFINITE, "score: %s", model_errmsg(m));
    for (int t = 0; rc == 0 && t < T; t++)
        FUZZ_CHECK(lp[t] <= 0 && !isnan(lp[t]), "position %d: log-prob %g", t, (double)lp[t]);
    model_sample_settings s;
    model_default_sample_settings(&s);
    s.steps = 2;
    gsl_rng_set(rng, 1);
    rc = model_sample(m, in, 1, T, &s, rng);
    FUZZ_CHECK(rc == 0 || rc == MODEL_ENONFINITE, "sample: %s", model_errmsg(m));
    for (int t = 0; rc == 0 && t < T; t++)
        FUZZ_CHECK(in[t] >= 0 && in[t] < c->vocab, "sampled id %d at %d", in[t], t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    if (size >= HEADER && !memcmp(buf, "PYRMODEL", 8) && !(buf[12] & 1)) {
        uint64_t plen = size - HEADER;
        uint32_t crc = crc32(buf + HEADER, size - HEADER);
        memcpy(buf + 16, &plen, 8);
        memcpy(buf + 24, &crc, 4);
    }
    char path[512];
    snprintf(path, sizeof path, "%s", fuzz_write("in.ckpt", buf, size));
    model *m = NULL;
    char *meta = NULL;
    int rc = model_load(&m, path, 1, &meta);
    if (rc) {
        FUZZ_CHECK(rc < 0 && !meta && (!m || model_errmsg(m)[0]), "refused with %s, no message",
                   model_strerror(rc));
        model_close(&m);
        free(buf);
        return 0;
    }
    FUZZ_CHECK(m && meta, "loaded without a model or metadata");
    /* the metadata is a config (pyramask score reads it): an error or a config */
    struct config *c = config_new();
    char err[CONFIG_ERR_MAX] = "";
    if (config_load_string(c, meta, "checkpoint", err) || config_finish(c, err))
        FUZZ_CHECK(err[0], "the metadata is refused without a message");
    config_free(&c);
    /* saved again: the same bytes, but for the flags and padding the loader ignores */
    int32_t has_optim;
    memcpy(&has_optim, buf + HEADER + 8 * 4, 4);
    char saved[512];
    snprintf(saved, sizeof saved, "%s/saved.ckpt", fuzz_dir());
    FUZZ_CHECK(model_save(m, saved, meta, has_optim) == 0, "save: %s", model_errmsg(m));
    size_t n;
    uint8_t *back = fuzz_read(saved, &n);
    FUZZ_CHECK(back && n == size && !memcmp(back, buf, 12) &&
                   !memcmp(back + 16, buf + 16, 12) &&
                   !memcmp(back + HEADER, buf + HEADER, size - HEADER),
               "saved again: %zu bytes differ from the %zu loaded", n, size);
    free(back);
    use(m);
    model_close(&m);
    free(meta);
    free(buf);
    return 0;
}
