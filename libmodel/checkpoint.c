/* checkpoint.c: model checkpoints: one file with magic, version, payload length and a
 * CRC-32 of the payload, written atomically (atomic_file.c) and checked on load. */
#include "model_internal.h"

#include "atomic_file.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CKPT_MAGIC   "PYRMODEL"
#define CKPT_EDIT    5u /* 5: edit classes (n_edit, DreamOn's [expand] and [delete]) */
#define CKPT_BLOCK   4u /* 4: block mode (the block size) */
#define CKPT_VERSION 3u /* 3: descriptions (n_desc, the membership layout) */
#define CKPT_FLAT    2u /* 2: relative positions (RoPE, ALiBi), no wpe table; no descriptions */
#define CKPT_HEADER  32 /* magic[8] version u32, flags u32, payload_len u64, crc u32, pad u32 */
/* version 2: V K d L H seq_len mode has_prior has_optim, mode 0 (diffusion) or 1 (ar, the
 * old causal flag); version 3 adds n_desc and n_members (the layout's member count, -1
 * without a layout); version 4 (mode 2, block) adds the block size after them, any n_desc;
 * version 5 (a model with edit classes: diffusion, no descriptions, block 0) adds n_edit (2)
 * after the block size. Every model without edit classes keeps its older version. */
#define CKPT_CONFIG_INTS    9
#define CKPT_CONFIG_INTS_V3 11
#define CKPT_CONFIG_INTS_V4 12
#define CKPT_CONFIG_INTS_V5 13

static size_t config_ints(uint32_t version)
{
    return version == CKPT_FLAT      ? CKPT_CONFIG_INTS
           : version == CKPT_VERSION ? CKPT_CONFIG_INTS_V3
           : version == CKPT_BLOCK   ? CKPT_CONFIG_INTS_V4
                                     : CKPT_CONFIG_INTS_V5;
}

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

/* CRC-32 (IEEE 802.3, as zlib's crc32) */
static uint32_t crc32_update(uint32_t crc, const void *data, size_t n)
{
    if (!crc_table[1])
        crc_init();
    const unsigned char *p = data;
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

typedef struct sink {
    FILE *f;
    uint32_t crc;
    uint64_t len;
    int err;
} sink;

static void put(sink *s, const void *p, size_t n)
{
    if (s->err || n == 0)
        return;
    if (fwrite(p, 1, n, s->f) != n)
        s->err = errno ? errno : EIO;
    s->crc = crc32_update(s->crc, p, n);
    s->len += n;
}

int model_save(model *m, const char *path, const char *meta, int with_optim)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    if (!path)
        return model_fail(m, MODEL_EINVAL, "save: no path");
    if (with_optim && !m->m_mem)
        return model_fail(m, MODEL_ESTATE, "no optimizer state to save before model_update");
    if (!meta)
        meta = "";
    size_t meta_len = strlen(meta);
    if (meta_len > UINT32_MAX)
        return model_fail(m, MODEL_EINVAL, "metadata too long");
    model_atomic_file w;
    int e = model_atomic_open(&w, path);
    if (e == ENOMEM)
        return model_fail(m, MODEL_ENOMEM, "out of memory");
    if (e)
        return model_fail(m, MODEL_EIO, "%s: cannot create a temporary file: %s", path,
                          strerror(e));
    FILE *f = w.f;
    unsigned char header[CKPT_HEADER] = {0};
    if (fwrite(header, 1, sizeof header, f) != sizeof header) { /* filled in at the end */
        model_atomic_abort(&w);
        return model_fail(m, MODEL_EIO, "%s: write failed", path);
    }
    sink s = {.f = f};
    const model_config *c = &m->cfg;
    /* a model without descriptions is written as version 2, the bytes it always had */
    const uint32_t version = c->n_edit > 0            ? CKPT_EDIT
                             : c->mode == MODEL_BLOCK ? CKPT_BLOCK
                             : c->n_desc > 0          ? CKPT_VERSION
                                                      : CKPT_FLAT;
    const int32_t n_members = m->lay_start ? m->lay_start[c->n_desc] : -1;
    int32_t cfg[CKPT_CONFIG_INTS_V5] = {
        c->vocab,         c->n_mask,    c->d,      c->layers, c->heads, c->seq_len, c->mode,
        m->prior != NULL, !!with_optim, c->n_desc, n_members, c->block, c->n_edit};
    put(&s, cfg, config_ints(version) * sizeof(int32_t));
    int64_t step = m->step;
    put(&s, &step, sizeof step);
    uint32_t ml = (uint32_t)meta_len;
    put(&s, &ml, sizeof ml);
    put(&s, meta, meta_len);
    put(&s, m->params_mem, m->num_params * sizeof(float));
    if (m->prior)
        put(&s, m->prior, (size_t)c->n_mask * c->vocab * sizeof(float));
    if (n_members >= 0) {
        put(&s, m->lay_start, ((size_t)c->n_desc + 1) * sizeof(int32_t));
        put(&s, m->lay_members, (size_t)n_members * sizeof(int32_t));
    }
    if (with_optim) {
        put(&s, m->m_mem, m->num_params * sizeof(float));
        put(&s, m->v_mem, m->num_params * sizeof(float));
    }
    uint32_t flags = 0;
    memcpy(header, CKPT_MAGIC, 8);
    memcpy(header + 8, &version, 4);
    memcpy(header + 12, &flags, 4);
    memcpy(header + 16, &s.len, 8);
    memcpy(header + 24, &s.crc, 4);
    if (!s.err &&
        (fseek(f, 0, SEEK_SET) != 0 || fwrite(header, 1, sizeof header, f) != sizeof header))
        s.err = errno ? errno : EIO;
    if (s.err)
        model_atomic_abort(&w);
    else
        s.err = model_atomic_commit(&w);
    if (s.err)
        return model_fail(m, MODEL_EIO, "%s: cannot write the checkpoint: %s", path,
                          strerror(s.err));
    return MODEL_OK;
}

/* Reads the whole file; sets *len. */
static unsigned char *slurp(const char *path, size_t *len, int *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = errno;
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        *err = S_ISDIR(st.st_mode) ? EISDIR : EIO;
        fclose(f);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf || fread(buf, 1, n, f) != n) {
        *err = buf ? EIO : ENOMEM;
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int load_fail(model **out, int rc, const char *fmt, const char *path, const char *why)
{
    char msg[200];
    snprintf(msg, sizeof msg, fmt, why);
    return model_fail_new(out, rc, "%s: %s", path, msg);
}

int model_load(model **out, const char *path, int threads, char **meta)
{
    *out = NULL;
    if (meta)
        *meta = NULL;
    if (!path)
        return model_fail_new(out, MODEL_EINVAL, "load: no path");
    size_t len = 0;
    int err = 0;
    unsigned char *buf = slurp(path, &len, &err);
    if (!buf)
        return load_fail(out, err == ENOMEM ? MODEL_ENOMEM : MODEL_EIO, "cannot read: %s", path,
                         strerror(err));
    int rc = MODEL_EFORMAT;
    char why[160];
    uint32_t version, crc;
    uint64_t plen;
    if (len < 8 || memcmp(buf, CKPT_MAGIC, 8) != 0) {
        snprintf(why, sizeof why, "not a pyramask model checkpoint (bad magic)");
        goto fail;
    }
    if (len < CKPT_HEADER) {
        snprintf(why, sizeof why, "truncated: %zu bytes, shorter than the header", len);
        goto fail;
    }
    memcpy(&version, buf + 8, 4);
    memcpy(&plen, buf + 16, 8);
    memcpy(&crc, buf + 24, 4);
    if (version < CKPT_FLAT || version > CKPT_EDIT) {
        snprintf(why, sizeof why, "checkpoint version %u, this build reads versions %u to %u",
                 version, CKPT_FLAT, CKPT_EDIT);
        goto fail;
    }
    if (plen != len - CKPT_HEADER) {
        snprintf(why, sizeof why,
                 "%s: the header announces %llu payload bytes, the file "
                 "has %zu",
                 plen > len - CKPT_HEADER ? "truncated" : "trailing bytes",
                 (unsigned long long)plen, len - CKPT_HEADER);
        goto fail;
    }
    const unsigned char *p = buf + CKPT_HEADER, *end = buf + len;
    if (crc32_update(0, p, plen) != crc) {
        snprintf(why, sizeof why, "corrupt: checksum mismatch");
        goto fail;
    }
    int32_t cfg[CKPT_CONFIG_INTS_V5] = {0};
    const size_t cfg_len = config_ints(version) * sizeof(int32_t);
    int64_t step;
    uint32_t ml;
    if ((size_t)(end - p) < cfg_len + sizeof step + sizeof ml) {
        snprintf(why, sizeof why, "corrupt: payload too short for its config");
        goto fail;
    }
    memcpy(cfg, p, cfg_len);
    p += cfg_len;
    memcpy(&step, p, sizeof step);
    p += sizeof step;
    memcpy(&ml, p, sizeof ml);
    p += sizeof ml;
    model_config c = {.vocab = cfg[0],
                      .n_mask = cfg[1],
                      .d = cfg[2],
                      .layers = cfg[3],
                      .heads = cfg[4],
                      .seq_len = cfg[5],
                      .mode = cfg[6],
                      .block = cfg[11],
                      .n_desc = cfg[9],
                      .n_edit = cfg[12]};
    int has_prior = cfg[7], has_optim = cfg[8];
    int32_t n_members = version == CKPT_FLAT ? -1 : cfg[10];
    if (model_check_config(&c, why, sizeof why) != 0 || (has_prior & ~1) || (has_optim & ~1) ||
        step < 0)
        goto fail;
    if (version == CKPT_EDIT && (c.n_edit != 2 || n_members != -1)) {
        snprintf(why, sizeof why,
                 "corrupt: a version %u checkpoint with n_edit %d and %d layout members "
                 "(n_edit 2, no layout)",
                 version, c.n_edit, n_members);
        goto fail;
    }
    if ((version == CKPT_BLOCK) != (c.mode == MODEL_BLOCK)) {
        snprintf(why, sizeof why, "corrupt: a version %u checkpoint of mode %d", version,
                 c.mode);
        goto fail;
    }
    if (version == CKPT_BLOCK &&
        (n_members < -1 || n_members > 1 << 28 || (n_members >= 0 && c.n_desc < 1))) {
        snprintf(why, sizeof why, "corrupt: n_desc %d with %d layout members", c.n_desc,
                 n_members);
        goto fail;
    }
    if (version == CKPT_VERSION && (c.n_desc < 1 || n_members < -1 || n_members > 1 << 28)) {
        snprintf(why, sizeof why,
                 "corrupt: a version %u checkpoint with n_desc %d and %d layout members "
                 "(n_desc >= 1, members -1..2^28)",
                 version, c.n_desc, n_members);
        goto fail;
    }
    size_t sizes[NUM_PARAM_TENSORS];
    size_t np = model_param_layout(&c, sizes);
    size_t lay = n_members >= 0 ? ((size_t)c.n_desc + 1 + (size_t)n_members) * 4 : 0;
    size_t need = ml + np * 4 + (has_prior ? (size_t)c.n_mask * c.vocab * 4 : 0) + lay +
                  (has_optim ? 2 * np * 4 : 0);
    if ((size_t)(end - p) != need) {
        snprintf(why, sizeof why,
                 "corrupt: payload has %zu bytes after the config, its "
                 "config needs %zu",
                 (size_t)(end - p), need);
        goto fail;
    }
    if (memchr(p, 0, ml)) {
        snprintf(why, sizeof why, "corrupt: the metadata string holds a NUL byte");
        goto fail;
    }
    rc = model_alloc(out, &c, threads);
    if (rc) {
        free(buf);
        return rc;
    }
    model *m = *out;
    m->step = step;
    if (meta) {
        *meta = malloc((size_t)ml + 1);
        if (!*meta) {
            free(buf);
            return model_fail(m, MODEL_ENOMEM, "out of memory");
        }
        memcpy(*meta, p, ml);
        (*meta)[ml] = 0;
    }
    p += ml;
    memcpy(m->params_mem, p, np * 4);
    p += np * 4;
    if (has_prior) {
        size_t n = (size_t)c.n_mask * c.vocab;
        m->prior = malloc(n * 4);
        if (!m->prior) {
            free(buf);
            return model_fail(m, MODEL_ENOMEM, "out of memory");
        }
        memcpy(m->prior, p, n * 4);
        p += n * 4;
    }
    if (n_members >= 0) {
        /* aligned copies for the checks (the payload's offsets need not be) */
        size_t ns = (size_t)c.n_desc + 1;
        int32_t *start = malloc(ns * 4), *members = malloc(((size_t)n_members + 1) * 4);
        if (!start || !members) {
            free(start);
            free(members);
            free(buf);
            return model_fail(m, MODEL_ENOMEM, "out of memory");
        }
        memcpy(start, p, ns * 4);
        memcpy(members, p + ns * 4, (size_t)n_members * 4);
        p += lay;
        rc = start[c.n_desc] == n_members ? model_layout_install(m, start, members)
                                          : MODEL_EINVAL;
        if (rc == MODEL_EINVAL && start[c.n_desc] != n_members)
            model_fail(m, rc, "layout: %d members announced, start[%d] = %d", n_members,
                       c.n_desc, start[c.n_desc]);
        free(start);
        free(members);
        if (rc) {
            free(buf);
            if (rc == MODEL_ENOMEM)
                return rc;
            char msg[sizeof m->errmsg];
            snprintf(msg, sizeof msg, "%s", model_errmsg(m));
            return model_fail(m, MODEL_EFORMAT, "%s: corrupt: %s", path, msg);
        }
    }
    if (has_optim) {
        m->m_mem = model_alloc_floats(np);
        m->v_mem = model_alloc_floats(np);
        if (!m->m_mem || !m->v_mem) {
            free(buf);
            return model_fail(m, MODEL_ENOMEM, "out of memory");
        }
        memcpy(m->m_mem, p, np * 4);
        memcpy(m->v_mem, p + np * 4, np * 4);
    }
    free(buf);
    return MODEL_OK;
fail:
    free(buf);
    return load_fail(out, rc, "%s", path, why);
}
