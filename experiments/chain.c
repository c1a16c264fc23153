/* chain.c: mask.chain parsed and checked against the pyramid, its maps built (prefix pieces,
 * classes, clusters), the model's membership layout, and the chain samplers' tables. */
#include "chain.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *alphabet_name(const struct chain_stage *st, char *buf, size_t n)
{
    if (st->alphabet == CHAIN_ALPHA_TOKENS)
        snprintf(buf, n, "level-%d byte strings", st->level);
    else
        snprintf(buf, n, "%s", st->alphabet == CHAIN_ALPHA_CLASSES ? "classes" : "clusters");
    return buf;
}

static int parse_count(const char *s, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < 0 || x > 1 << 24)
        return -1;
    *out = (int)x;
    return 0;
}

int chain_flat(const char *text)
{
    return !text || !*text || !strcmp(text, "none");
}

int chain_parse(const char *text, int model_level, const int *level_size, int top,
                int n_classes, struct chain_spec *out, char *why, size_t n)
{
    memset(out, 0, sizeof *out);
    if (chain_flat(text))
        return 0;
    char *copy = strdup(text);
    if (!copy)
        return fail(why, n, "out of memory");
    /* the alphabet before the first map: the model level's tokens */
    struct chain_stage cur = {
        .alphabet = CHAIN_ALPHA_TOKENS, .level = model_level, .size = level_size[model_level]};
    char *save = NULL, buf[64];
    int rc = 0, count = 0;
    /* strtok_r skips empty items: find them first */
    for (const char *q = copy, *comma; *copy && !rc; q = comma + 1) {
        comma = strchr(q, ',');
        size_t len = comma ? (size_t)(comma - q) : strlen(q);
        if (strspn(q, " \t") >= len)
            rc = fail(why, n, "empty map in '%s'", text);
        if (!comma)
            break;
    }
    for (char *item = strtok_r(copy, ",", &save); item && !rc;
         item = strtok_r(NULL, ",", &save)) {
        char *p = item;
        while (isspace((unsigned char)*p))
            p++;
        size_t len = strlen(p);
        while (len && isspace((unsigned char)p[len - 1]))
            p[--len] = 0;
        if (!*p) {
            rc = fail(why, n, "empty map in '%s'", text);
            break;
        }
        if (count == MASK_MAX_CHAIN) {
            rc = fail(why, n, "more than %d maps", MASK_MAX_CHAIN);
            break;
        }
        struct chain_stage st = {0};
        int arg = 0;
        if (!strncmp(p, "prefix:", 7)) {
            if (parse_count(p + 7, &arg)) {
                rc = fail(why, n, "'%s': N of prefix:N is not a level number", p);
                break;
            }
            if (cur.alphabet != CHAIN_ALPHA_TOKENS) {
                rc = fail(why, n,
                          "'%s' cannot follow %s (a prefix needs byte strings: the "
                          "model's tokens or prefix pieces)",
                          p, alphabet_name(&cur, buf, sizeof buf));
                break;
            }
            if (arg > top) {
                rc = fail(why, n, "'%s': the pyramid has no level %d (levels 0..%d)", p, arg,
                          top);
                break;
            }
            if (arg >= cur.level) {
                rc = fail(why, n, "'%s': level %d is not below the alphabet's level %d", p, arg,
                          cur.level);
                break;
            }
            st = (struct chain_stage){CHAIN_PREFIX, arg, CHAIN_ALPHA_TOKENS, arg,
                                      level_size[arg]};
        } else if (!strcmp(p, "class")) {
            if (cur.alphabet != CHAIN_ALPHA_TOKENS) {
                rc = fail(why, n,
                          "'class' cannot follow %s (classes are of byte strings: the "
                          "model's tokens or prefix pieces)",
                          alphabet_name(&cur, buf, sizeof buf));
                break;
            }
            st = (struct chain_stage){CHAIN_CLASS, 0, CHAIN_ALPHA_CLASSES, 0, n_classes};
        } else if (!strncmp(p, "cluster:", 8)) {
            if (parse_count(p + 8, &arg) || arg < 1) {
                rc = fail(why, n, "'%s': C of cluster:C is not a positive count", p);
                break;
            }
            if (arg > cur.size) {
                rc = fail(why, n,
                          "'%s': %d clusters are more than the %d ids of the alphabet (%s)", p,
                          arg, cur.size, alphabet_name(&cur, buf, sizeof buf));
                break;
            }
            st = (struct chain_stage){CHAIN_CLUSTER, arg, CHAIN_ALPHA_CLUSTERS, 0, arg};
        } else {
            rc = fail(why, n, "unknown map '%s' (prefix:N, class, cluster:C)", p);
            break;
        }
        out->stage[count++] = st;
        cur = st;
    }
    out->n = rc ? 0 : count;
    free(copy);
    return rc;
}

void chain_maps_free(struct chain_maps *cm)
{
    for (int l = 0; l < MASK_MAX_CHAIN; l++)
        free(cm->map[l]);
    memset(cm, 0, sizeof *cm);
}

/* The training text written in the alphabet of stage `l` (-1: the model's tokens): model ids
 * mapped through maps 0..l, or the text encoded at a prefix's level. *ids malloc'd. */
static int alphabet_corpus(const struct chain_maps *cm, const struct chain_spec *s, int l,
                           const tok *t, const int32_t *train_ids, size_t n_train,
                           const char *text, size_t len, int32_t **ids, size_t *n, char *err,
                           size_t errlen)
{
    if (l >= 0 && s->stage[l].alphabet == CHAIN_ALPHA_TOKENS) {
        tok_ids enc = {0};
        int rc = tok_encode_parallel(t, s->stage[l].level, text, len, 1, &enc);
        if (rc)
            return fail(err, errlen, "encoding at level %d: %s", s->stage[l].level,
                        tok_strerror(rc));
        *ids = malloc((enc.n ? enc.n : 1) * sizeof **ids);
        if (*ids)
            memcpy(*ids, enc.ids, enc.n * sizeof **ids);
        *n = enc.n;
        tok_ids_free(&enc);
        return *ids ? 0 : (snprintf(err, errlen, "out of memory"), -1);
    }
    /* a description alphabet (classes, clusters) or the model's tokens: compose the maps */
    *ids = malloc((n_train ? n_train : 1) * sizeof **ids);
    if (!*ids)
        return fail(err, errlen, "out of memory");
    for (size_t i = 0; i < n_train; i++) {
        int32_t v = train_ids[i];
        for (int j = 0; j <= l; j++)
            v = cm->map[j][v];
        (*ids)[i] = v;
    }
    *n = n_train;
    return 0;
}

int chain_build(struct chain_maps *cm, const struct chain_spec *s, const tok *t,
                int model_level, mask *classifier, const int32_t *train_ids, size_t n_train,
                const char *train_text, size_t train_len, unsigned long cluster_seed, char *err,
                size_t errlen)
{
    memset(cm, 0, sizeof *cm);
    /* the alphabet a map reads: kind, pyramid level and size */
    int level = model_level, size = tok_vocab_size(t, model_level);
    int rc = 0;
    for (int l = 0; l < s->n && !rc; l++) {
        const struct chain_stage *st = &s->stage[l];
        int32_t *map = malloc((size_t)size * sizeof *map);
        if (!map) {
            rc = fail(err, errlen, "out of memory");
            break;
        }
        cm->map[l] = map;
        tok_err te = {0};
        if (st->kind == CHAIN_PREFIX) {
            int e = tok_prefix_map(t, level, st->arg, map, &te);
            if (e)
                rc = fail(err, errlen, "prefix:%d: %s", st->arg,
                          te.msg[0] ? te.msg : tok_strerror(e));
        } else if (st->kind == CHAIN_CLASS) {
            for (int i = 0; i < size && !rc; i++) {
                size_t len = 0;
                const uint8_t *b = l == 0 ? tok_token_bytes(t, i, &len)
                                          : tok_prefix_piece_bytes(t, level, i, &len);
                int k = mask_classify(classifier, b ? (const char *)b : "", b ? len : 0);
                if (k < 0)
                    rc = fail(err, errlen, "class: %s", mask_errmsg(classifier));
                map[i] = k;
            }
        } else {
            int32_t *ids = NULL;
            size_t n = 0;
            rc = alphabet_corpus(cm, s, l - 1, t, train_ids, n_train, train_text, train_len,
                                 &ids, &n, err, errlen);
            if (!rc) {
                tok_cluster_stats stats;
                int e = tok_cluster_map(ids, n, size, st->arg, cluster_seed, NULL, map, &stats,
                                        &te);
                if (e)
                    rc = fail(err, errlen, "cluster:%d: %s", st->arg,
                              te.msg[0] ? te.msg : tok_strerror(e));
            }
            free(ids);
        }
        cm->size[l] = st->size;
        level = st->level;
        size = st->size;
        cm->n = l + 1;
    }
    if (rc)
        chain_maps_free(cm);
    return rc;
}

int chain_layout(const mask *m, int32_t **start, int32_t **members, int *n_desc)
{
    int M = mask_chain_length(m), V = mask_level_size(m, 0), D = 0;
    for (int l = 1; l <= M; l++)
        D += mask_level_size(m, l);
    *start = calloc((size_t)D + 1, sizeof **start);
    *members = malloc(((size_t)M * V > 0 ? (size_t)M * V : 1) * sizeof **members);
    *n_desc = D;
    if (!*start || !*members) {
        free(*start), free(*members);
        *start = *members = NULL;
        return -1;
    }
    int32_t *st = *start, *mem = *members, off = 0;
    for (int l = 1; l <= M; l++) {
        const int32_t *desc = mask_chain_descriptions(m, l);
        for (int v = 0; v < V; v++)
            st[off + desc[v] + 1]++;
        off += mask_level_size(m, l);
    }
    for (int e = 0; e < D; e++)
        st[e + 1] += st[e];
    int32_t *fill = malloc(((size_t)D ? (size_t)D : 1) * sizeof *fill);
    if (!fill) {
        free(*start), free(*members);
        *start = *members = NULL;
        return -1;
    }
    memcpy(fill, st, (size_t)D * sizeof *fill);
    off = 0;
    for (int l = 1; l <= M; l++) {
        const int32_t *desc = mask_chain_descriptions(m, l);
        for (int v = 0; v < V; v++) /* ascending v: members come out sorted */
            mem[fill[off + desc[v]]++] = v;
        off += mask_level_size(m, l);
    }
    free(fill);
    return 0;
}

void chain_sampler_free(struct chain_sampler *cs)
{
    for (int l = 0; l < MASK_MAX_CHAIN; l++)
        free(cs->describe[l]);
    free(cs->kernel);
    memset(cs, 0, sizeof *cs);
}

int chain_sampler_open(struct chain_sampler *cs, const model *m, const struct chain_spec *spec,
                       double shape, int steps, char *err, size_t errlen)
{
    memset(cs, 0, sizeof *cs);
    const model_config *mc = model_get_config(m);
    const int V = mc->vocab, K = mc->n_mask, M = spec->n;
    const int32_t *start, *members;
    int D = 0;
    for (int l = 0; l < M; l++)
        D += spec->stage[l].size;
    if (M == 0)
        return 0;
    if (mc->n_desc != D || !model_get_layout(m, &start, &members))
        return fail(err, errlen,
                    "the checkpoint has %d descriptions%s; its mask.chain gives %d", mc->n_desc,
                    mc->n_desc ? "" : " (a flat model)", D);
    int32_t *maps[MASK_MAX_CHAIN] = {0};
    int rc = 0;
    cs->n = M;
    int32_t first = V + K;
    for (int l = 0; l < M && !rc; l++) {
        cs->stage_first[l] = first;
        int32_t *d = cs->describe[l] = malloc((size_t)V * sizeof *d);
        int prev = l ? spec->stage[l - 1].size : V;
        maps[l] = calloc((size_t)prev, sizeof *maps[l]);
        if (!d || !maps[l]) {
            rc = -2;
            break;
        }
        for (int v = 0; v < V; v++)
            d[v] = -1;
        int e0 = first - V - K;
        for (int e = e0; e < e0 + spec->stage[l].size; e++)
            for (int j = start[e]; j < start[e + 1]; j++)
                d[members[j]] = V + K + e;
        for (int v = 0; v < V && !rc; v++)
            if (d[v] < 0)
                rc = fail(err, errlen,
                          "the checkpoint's layout leaves token %d out of stage %d", v, l + 1);
        /* map from the previous stage: through any member of each description */
        for (int v = 0; v < V && !rc; v++) {
            int from = l ? cs->describe[l - 1][v] - cs->stage_first[l - 1] : v;
            maps[l][from] = d[v] - first;
        }
        first += spec->stage[l].size;
    }
    cs->stage_first[M] = first;
    mask *mk = NULL;
    if (!rc) {
        mask_settings s;
        mask_default_settings(&s);
        s.vocab_size = V;
        s.n_types = K;
        s.chain_length = M;
        s.chain_shape = shape;
        for (int l = 0; l < M; l++) {
            s.chain_map[l] = maps[l];
            s.chain_size[l] = spec->stage[l].size;
        }
        if (mask_open(&mk, &s))
            rc = fail(err, errlen, "chain: %s", mask_errmsg(mk));
    }
    const int L = M + 2;
    if (!rc && !(cs->kernel = malloc((size_t)steps * L * L * sizeof *cs->kernel)))
        rc = -2;
    /* the step grid: F_1 = p^(a_1) falls evenly from 1 to 0, so p_i = (1 - i/steps)^(1/a_1) */
    double a1 = pow(shape, M), P[MASK_MAX_CHAIN + 2] = {0};
    P[M + 1] = 1;
    for (int i = 0; i < steps && !rc; i++) {
        double pt = pow(1.0 - (double)i / steps, 1 / a1);
        double ps = i + 1 == steps ? 0 : pow(1.0 - (double)(i + 1) / steps, 1 / a1);
        double *k = cs->kernel + (size_t)i * L * L;
        if (mask_chain_kernel(mk, ps, pt, k)) {
            rc = fail(err, errlen, "chain kernel: %s", mask_errmsg(mk));
            break;
        }
        double Q[MASK_MAX_CHAIN + 2] = {0};
        for (int l = 0; l < L; l++)
            for (int j = 0; j <= l; j++) {
                if (j < l - 1)
                    cs->jump += P[l] * k[l * L + j];
                Q[j] += P[l] * k[l * L + j];
            }
        memcpy(P, Q, sizeof P);
    }
    mask_close(&mk);
    for (int l = 0; l < M; l++)
        free(maps[l]);
    if (rc) {
        chain_sampler_free(cs);
        if (rc == -2)
            snprintf(err, errlen, "out of memory");
        return rc;
    }
    cs->chain =
        (model_chain){M, cs->stage_first, (const int32_t *const *)cs->describe, cs->kernel};
    return 0;
}
