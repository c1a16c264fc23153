/* train_count.c: the counting passes of training: unique pre-tokens with their counts (in
 * parallel over fixed blocks of the corpus), and for the superword stage, unique lines. */
#include "tok_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { BLOCK = 1 << 20 };

/* ---- reading the texts ---- */

static int load_text(const train_text *tx, const uint8_t **buf, size_t *len, uint8_t **owned,
                     tok_err *err)
{
    *owned = NULL;
    if (!tx->path) {
        *buf = tx->buf;
        *len = tx->len;
        return TOK_OK;
    }
    int fd = open(tx->path, O_RDONLY);
    if (fd < 0)
        return tok_fail(err, TOK_EIO, "%s: %s", tx->path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return tok_fail(err, TOK_EIO, "%s: %s", tx->path,
                        S_ISDIR(st.st_mode) ? "is a directory"
                        : e                 ? strerror(e)
                                            : "not a regular file");
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    uint8_t *b = malloc(cap);
    if (!b) {
        close(fd);
        return tok_fail(err, TOK_ENOMEM, "%s: out of memory", tx->path);
    }
    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                close(fd);
                return tok_fail(err, TOK_ENOMEM, "%s: out of memory", tx->path);
            }
            b = nb;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(b);
            close(fd);
            return tok_fail(err, TOK_EIO, "%s: %s", tx->path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *buf = *owned = b;
    *len = n;
    return TOK_OK;
}

/* Block j of a text starts after the first newline at or after j * BLOCK. */
static size_t block_start(const uint8_t *s, size_t n, size_t j)
{
    if (j == 0)
        return 0;
    size_t p = j * BLOCK;
    if (p >= n)
        return n;
    const uint8_t *nl = memchr(s + p, '\n', n - p);
    return nl ? (size_t)(nl - s) + 1 : n;
}

/* ---- counting pre-tokens ---- */

struct wentry {
    uint64_t h; /* 0 = empty */
    size_t off; /* into the arena */
    uint32_t len;
    int64_t count;
};

struct wmap {
    struct wentry *e;
    size_t cap, n;
    uint8_t *arena;
    size_t alen, acap;
};

static void wmap_free(struct wmap *m)
{
    free(m->e);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

static int wmap_grow(struct wmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1 << 14;
    struct wentry *ne = tok_zeroed(ncap, sizeof *ne);
    if (!ne)
        return TOK_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].h)
            continue;
        size_t j = m->e[i].h & (ncap - 1);
        while (ne[j].h)
            j = (j + 1) & (ncap - 1);
        ne[j] = m->e[i];
    }
    free(m->e);
    m->e = ne;
    m->cap = ncap;
    return TOK_OK;
}

static int wmap_add(struct wmap *m, const uint8_t *p, size_t n, uint64_t h, int64_t c)
{
    if ((m->n + 1) * 2 > m->cap && wmap_grow(m))
        return TOK_ENOMEM;
    size_t mask = m->cap - 1, i = h & mask;
    for (;; i = (i + 1) & mask) {
        struct wentry *e = &m->e[i];
        if (!e->h)
            break;
        if (e->h == h && e->len == n && !memcmp(m->arena + e->off, p, n)) {
            e->count += c;
            return TOK_OK;
        }
    }
    if (m->alen + n > m->acap) {
        size_t nc = m->acap ? m->acap : 1 << 16;
        while (nc < m->alen + n)
            nc *= 2;
        uint8_t *na = realloc(m->arena, nc);
        if (!na)
            return TOK_ENOMEM;
        m->arena = na;
        m->acap = nc;
    }
    memcpy(m->arena + m->alen, p, n);
    m->e[i] = (struct wentry){h, m->alen, (uint32_t)n, c};
    m->alen += n;
    m->n++;
    return TOK_OK;
}

struct counter {
    const pretok *pre;
    const uint8_t *s;
    size_t n, nblocks;
    atomic_size_t *next;
    struct wmap map;
    int rc;
    int id;
    const tok_train_settings *set;
    double done0, total;
};

static void *count_run(void *arg)
{
    struct counter *c = arg;
    pretok_matcher *m;
    if ((c->rc = tok_pretok_matcher_open(&m, c->pre)))
        return NULL;
    for (;;) {
        size_t j = atomic_fetch_add(c->next, 1);
        if (j >= c->nblocks)
            break;
        size_t a = block_start(c->s, c->n, j), b = block_start(c->s, c->n, j + 1);
        pretok_iter it = {.pos = a};
        size_t ps, pe;
        while (tok_pretok_next(m, c->s, b, &it, &ps, &pe)) {
            uint64_t h = tok_hash_bytes(c->s + ps, pe - ps) | 1;
            if ((c->rc = wmap_add(&c->map, c->s + ps, pe - ps, h, 1)))
                goto out;
        }
        if (c->id == 0 && c->set->progress)
            c->set->progress(c->set->progress_ctx, "counting", c->done0 + (double)b, c->total);
    }
out:
    tok_pretok_matcher_close(&m);
    return NULL;
}

void tok_word_counts_free(word_counts *w)
{
    free(w->bytes);
    free(w->off);
    free(w->count);
    memset(w, 0, sizeof *w);
}

int tok_count_pretokens(const pretok *pre, const train_text *texts, int ntexts, int nthreads,
                        const tok_train_settings *s, word_counts *out, tok_err *err)
{
    memset(out, 0, sizeof *out);
    int nt = nthreads < 1 ? 1 : nthreads > 64 ? 64 : nthreads;
    struct counter *cs = calloc((size_t)nt, sizeof *cs);
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    if (!cs || !th) {
        free(cs);
        free(th);
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    double total = 0, done = 0;
    for (int i = 0; i < ntexts; i++) {
        struct stat st;
        total += texts[i].path ? (stat(texts[i].path, &st) ? 0 : (double)st.st_size)
                               : (double)texts[i].len;
    }
    int rc = TOK_OK;
    size_t nbytes = 0;
    for (int i = 0; i < ntexts && !rc; i++) {
        const uint8_t *buf;
        size_t len;
        uint8_t *owned;
        if ((rc = load_text(&texts[i], &buf, &len, &owned, err)))
            break;
        if (!len) {
            free(owned);
            rc = tok_fail(err, TOK_ECORPUS, "%s: empty file",
                          texts[i].path ? texts[i].path : "text");
            break;
        }
        nbytes += len;
        atomic_size_t next = 0;
        size_t nblocks = (len + BLOCK - 1) / BLOCK;
        int started = 0;
        for (int k = 0; k < nt; k++) {
            cs[k].pre = pre;
            cs[k].s = buf;
            cs[k].n = len;
            cs[k].nblocks = nblocks;
            cs[k].next = &next;
            cs[k].id = k;
            cs[k].set = s;
            cs[k].done0 = done;
            cs[k].total = total;
        }
        for (; started < nt; started++)
            if (pthread_create(&th[started], NULL, count_run, &cs[started]))
                break;
        if (!started)
            count_run(&cs[0]), started = 0;
        for (int k = 0; k < started; k++)
            pthread_join(th[k], NULL);
        for (int k = 0; k < nt && !rc; k++)
            if (cs[k].rc)
                rc = tok_fail(err, cs[k].rc, "out of memory while counting");
        free(owned);
        done += (double)len;
    }
    /* fold the threads' maps into the first */
    for (int k = 1; k < nt && !rc; k++) {
        struct wmap *m = &cs[k].map;
        for (size_t i = 0; i < m->cap && !rc; i++)
            if (m->e[i].h)
                rc = wmap_add(&cs[0].map, m->arena + m->e[i].off, m->e[i].len, m->e[i].h,
                              m->e[i].count);
        wmap_free(m);
        if (rc)
            rc = tok_fail(err, rc, "out of memory");
    }
    struct wmap *m = &cs[0].map;
    if (!rc && nbytes == 0)
        rc = tok_fail(err, TOK_ECORPUS, "empty corpus");
    if (!rc) {
        out->nwords = m->n;
        out->bytes = m->arena; /* the words keep the arena; offsets are rebuilt in order */
        out->off = malloc((m->n + 1) * sizeof *out->off);
        out->count = malloc((m->n ? m->n : 1) * sizeof *out->count);
        uint8_t *bytes = malloc(m->alen ? m->alen : 1);
        if (!out->off || !out->count || !bytes) {
            free(bytes);
            out->bytes = NULL;
            tok_word_counts_free(out);
            rc = tok_fail(err, TOK_ENOMEM, "out of memory");
        } else {
            size_t w = 0, o = 0;
            for (size_t i = 0; i < m->cap; i++) {
                if (!m->e[i].h)
                    continue;
                out->off[w] = o;
                memcpy(bytes + o, m->arena + m->e[i].off, m->e[i].len);
                o += m->e[i].len;
                out->count[w++] = m->e[i].count;
            }
            out->off[w] = o;
            out->bytes = bytes;
        }
    }
    wmap_free(m);
    free(cs);
    free(th);
    return rc;
}

/* ---- counting lines for the superword stage ---- */

static int32_t line_word(const uint8_t *p, size_t k)
{
    int32_t w;
    memcpy(&w, p + k * sizeof w, sizeof w);
    return w;
}

/* Lines are counted in a wmap keyed by their word ids' bytes. */
static int count_lines_of(const pretok *pre, const uint8_t *s, size_t n, const bytemap *wm,
                          bytestrs ws, struct wmap *cm, int32_t **line, size_t *lcap)
{
    pretok_matcher *m;
    if (tok_pretok_matcher_open(&m, pre))
        return TOK_ENOMEM;
    int rc = TOK_OK;
    size_t nblocks = (n + BLOCK - 1) / BLOCK;
    for (size_t j = 0; j < nblocks && !rc; j++) {
        size_t a = block_start(s, n, j), b = block_start(s, n, j + 1), k = 0, ps, pe;
        pretok_iter it = {.pos = a};
        for (;;) {
            bool more = tok_pretok_next(m, s, b, &it, &ps, &pe);
            if (!more || memchr(s + ps, '\n', pe - ps)) {
                size_t kb = k * sizeof **line;
                if (k && (rc = wmap_add(cm, (const uint8_t *)*line, kb,
                                        tok_hash_bytes((const uint8_t *)*line, kb) | 1, 1)))
                    break;
                k = 0;
                if (!more)
                    break;
                continue;
            }
            int32_t w = tok_bytemap_get(wm, ws, s + ps, pe - ps);
            if (w < 0) { /* cannot happen: the same blocks were counted */
                rc = TOK_EINVAL;
                break;
            }
            if (k == *lcap) {
                size_t nc = *lcap ? *lcap * 2 : 256;
                int32_t *nl = realloc(*line, nc * sizeof *nl);
                if (!nl) {
                    rc = TOK_ENOMEM;
                    break;
                }
                *line = nl;
                *lcap = nc;
            }
            (*line)[k++] = w;
        }
    }
    tok_pretok_matcher_close(&m);
    return rc;
}

int tok_count_chunks(const pretok *pre, const train_text *texts, int ntexts,
                     const word_counts *w, const symseqs *words, symseqs *out, tok_err *err)
{
    memset(out, 0, sizeof *out);
    bytemap wm;
    bytestrs ws = {w->bytes, w->off};
    if (tok_bytemap_init(&wm, w->nwords))
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (size_t i = 0; i < w->nwords; i++)
        if (tok_bytemap_add(&wm, ws, (int32_t)i) < 0) {
            tok_bytemap_free(&wm);
            return tok_fail(err, TOK_ENOMEM, "out of memory");
        }
    struct wmap cm = {0};
    int32_t *line = NULL;
    size_t lcap = 0;
    int rc = TOK_OK;
    for (int i = 0; i < ntexts && !rc; i++) {
        const uint8_t *buf;
        size_t len;
        uint8_t *owned;
        if ((rc = load_text(&texts[i], &buf, &len, &owned, err)))
            break;
        rc = count_lines_of(pre, buf, len, &wm, ws, &cm, &line, &lcap);
        if (rc)
            rc = tok_fail(err, rc, "counting lines: %s", tok_strerror(rc));
        free(owned);
    }
    free(line);
    tok_bytemap_free(&wm);
    size_t nsym = 0;
    for (size_t i = 0; i < cm.cap && !rc; i++)
        if (cm.e[i].h)
            for (uint32_t k = 0; k < cm.e[i].len / 4; k++)
                nsym += words->len[line_word(cm.arena + cm.e[i].off, k)];
    if (!rc) {
        out->n = cm.n;
        out->sym = malloc((nsym ? nsym : 1) * sizeof *out->sym);
        out->off = malloc((cm.n + 1) * sizeof *out->off);
        out->len = malloc((cm.n ? cm.n : 1) * sizeof *out->len);
        out->count = malloc((cm.n ? cm.n : 1) * sizeof *out->count);
        if (!out->sym || !out->off || !out->len || !out->count) {
            tok_symseqs_free(out);
            rc = tok_fail(err, TOK_ENOMEM, "out of memory");
        }
    }
    if (!rc) {
        size_t c = 0, o = 0;
        for (size_t i = 0; i < cm.cap; i++) {
            if (!cm.e[i].h)
                continue;
            out->off[c] = o;
            for (uint32_t k = 0; k < cm.e[i].len / 4; k++) {
                int32_t wd = line_word(cm.arena + cm.e[i].off, k);
                memcpy(out->sym + o, words->sym + words->off[wd],
                       words->len[wd] * sizeof(int32_t));
                o += words->len[wd];
            }
            out->len[c] = (uint32_t)(o - out->off[c]);
            out->count[c++] = cm.e[i].count;
        }
        out->off[c] = o;
    }
    wmap_free(&cm);
    return rc;
}
