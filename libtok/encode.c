/* encode.c: encoding at one level: the per-thread encoder with its pre-token cache, the
 * subword and superword passes, and the parallel encoding of a large buffer. */
#include "encode_impl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The cache's table, doubled as it fills, is made of 2 MB pages from 1 MB up
 * (tok_table_alloc), and its records' space, once it outgrows ARENA_SMALL words of malloc'd
 * memory, is reserved whole (CACHE_MAX_BYTES, its pages mapped as they are first written)
 * and never moved again. Both grew by realloc before, in 4 KB pages: on a host slow to take
 * a page fault, their faults were most of an encoding's own. */
enum {
    CACHE_MAX_KEY = 4096,        /* longer pieces are not cached */
    CACHE_MAX_LINE = 256,        /* nor longer lines (most long lines are unique) */
    CACHE_MAX_ENTRIES = 1 << 20, /* the cache is emptied when it grows past these */
    CACHE_MAX_BYTES = 64 << 20,
    ARENA_SMALL = 1 << 17, /* words: 512 KB */
};

/* An entry: the hash (0 = empty) and where its record is in the arena. A record holds the
 * tag, the result ids and the key's bytes together, so a hit reads two places in memory (the
 * entry, the record) where separate key and result arrays made three; and 16-byte entries
 * make the table 0.4 of its size with the tag and both offsets in them. */
struct centry {
    uint64_t h;
    uint32_t off;        /* in 4-byte words */
    uint16_t klen, nres; /* klen <= CACHE_MAX_KEY, nres <= klen */
};
_Static_assert(CACHE_MAX_KEY <= UINT16_MAX, "centry lengths are 16 bits");

/* record at word off: the tag in two words, nres ids, then klen bytes padded to a word */
enum { REC_HEAD = 2 };
static size_t rec_words(size_t klen, size_t nres)
{
    return REC_HEAD + nres + (klen + 3) / 4;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return TOK_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return TOK_ENOMEM;
    tok_advise_huge(q, c * size);
    *p = q;
    *cap = c;
    return TOK_OK;
}

int tok_encoder_open(tok_encoder **out, const tok *t)
{
    tok_encoder *e = calloc(1, sizeof *e);
    *out = NULL;
    if (!e)
        return TOK_ENOMEM;
    e->t = t;
    e->small = tok_zeroed((size_t)1 << SMALL_BITS, sizeof *e->small);
    e->mid = tok_zeroed((size_t)1 << MID_BITS, sizeof *e->mid);
    if (!e->small || !e->mid || tok_pretok_matcher_open(&e->m, t->pre)) {
        free(e->small);
        free(e->mid);
        free(e);
        return TOK_ENOMEM;
    }
    e->fast = tok_pretok_fast_kind(e->m);
    *out = e;
    return TOK_OK;
}

void tok_encoder_close(tok_encoder **ep)
{
    if (!ep || !*ep)
        return;
    tok_encoder *e = *ep;
    tok_pretok_matcher_close(&e->m);
    tok_merge_scratch_free(&e->sc);
    free(e->small);
    free(e->mid);
    tok_table_free(e->ents, e->ecap * sizeof *e->ents);
    if (e->acap > ARENA_SMALL)
        tok_table_free(e->arena, CACHE_MAX_BYTES);
    else
        free(e->arena);
    free(e->seq);
    free(e->seq2);
    free(e->rec);
    free(e->pcs);
    free(e);
    *ep = NULL;
}

static void cache_clear(tok_encoder *e)
{
    if (e->ents)
        memset(e->ents, 0, e->ecap * sizeof *e->ents);
    e->en = e->alen = 0;
}

/* entries with h == 0 are empty; hashes are forced non-zero */
const int32_t *tok_cache_get(tok_encoder *e, uint64_t tag, const uint8_t *p, size_t n,
                             size_t *nres, uint64_t *hout)
{
    uint64_t h = (tok_hash_bytes(p, n) ^ mix64(tag)) | 1;
    *hout = h;
    if (!e->ecap)
        return NULL;
    size_t mask = e->ecap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct centry *c = &e->ents[i];
        if (!c->h)
            return NULL;
        if (c->h != h || c->klen != n)
            continue;
        const uint32_t *r = e->arena + c->off;
        if (((uint64_t)r[1] << 32 | r[0]) == tag &&
            !memcmp((const uint8_t *)(r + REC_HEAD + c->nres), p, n)) {
            *nres = c->nres;
            return (const int32_t *)(r + REC_HEAD);
        }
    }
}

void tok_cache_put(tok_encoder *e, uint64_t tag, uint64_t h, const uint8_t *p, size_t n,
                   const int32_t *res, size_t nres)
{
    if (n > UINT16_MAX || nres > UINT16_MAX)
        return; /* caching is optional */
    size_t words = rec_words(n, nres);
    if (e->en >= CACHE_MAX_ENTRIES || (e->alen + words) * 4 > CACHE_MAX_BYTES)
        cache_clear(e);
    if (e->alen + words > ARENA_SMALL && e->acap <= ARENA_SMALL) { /* the whole space */
        uint32_t *a = tok_table_alloc(CACHE_MAX_BYTES, false);
        if (!a)
            return; /* caching is optional */
        memcpy(a, e->arena, e->alen * sizeof *a);
        free(e->arena);
        e->arena = a;
        e->acap = CACHE_MAX_BYTES / sizeof *a;
    } else if (grow((void **)&e->arena, &e->acap, e->alen + words, sizeof *e->arena)) {
        return;
    }
    if ((e->en + 1) * 2 > e->ecap) {
        size_t ncap = e->ecap ? e->ecap * 2 : 4096;
        struct centry *ne = tok_table_alloc(ncap * sizeof *ne, true);
        if (!ne)
            return; /* caching is optional */
        for (size_t i = 0; i < e->ecap; i++) {
            if (!e->ents[i].h)
                continue;
            size_t j = e->ents[i].h & (ncap - 1);
            while (ne[j].h)
                j = (j + 1) & (ncap - 1);
            ne[j] = e->ents[i];
        }
        tok_table_free(e->ents, e->ecap * sizeof *e->ents);
        e->ents = ne;
        e->ecap = ncap;
    }
    size_t mask = e->ecap - 1, i = h & mask;
    while (e->ents[i].h)
        i = (i + 1) & mask;
    e->ents[i] = (struct centry){h, (uint32_t)e->alen, (uint16_t)n, (uint16_t)nres};
    uint32_t *r = e->arena + e->alen;
    r[0] = (uint32_t)tag;
    r[1] = (uint32_t)(tag >> 32);
    memcpy(r + REC_HEAD, res, nres * sizeof *res);
    if (n)
        r[words - 1] = 0; /* the key's padding (without a key, that word is the tag's) */
    memcpy(r + REC_HEAD + nres, p, n);
    e->alen += words;
    e->en++;
}

size_t tok_cache_unsound(tok_encoder *e)
{
    size_t bad = 0;
    for (size_t i = 0; i < e->ecap; i++) {
        const struct centry *c = &e->ents[i];
        if (!c->h)
            continue;
        const uint32_t *r = e->arena + c->off;
        uint64_t tag = (uint64_t)r[1] << 32 | r[0], h;
        size_t nres = 0;
        const int32_t *got = tok_cache_get(e, tag, (const uint8_t *)(r + REC_HEAD + c->nres),
                                           c->klen, &nres, &h);
        bad += got != (const int32_t *)(r + REC_HEAD) || nres != c->nres || h != c->h;
    }
    return bad;
}

/* The tokens of piece p[0..n) without the caches. */
static const int32_t *merge_piece(tok_encoder *e, const uint8_t *p, size_t n, int32_t hi,
                                  size_t *nout)
{
    const tok *t = e->t;
    if (t->rule == RULE_RANKS) { /* tiktoken: a pre-token that is a token is that token */
        int32_t id = tok_bytemap_get(&t->byid, (bytestrs){t->bytes, t->off}, p, n);
        if (id >= 0 && id < hi) {
            e->one = id;
            *nout = 1;
            return &e->one;
        }
    }
    if (grow((void **)&e->seq, &e->seqcap, n, sizeof *e->seq))
        return NULL;
    for (size_t i = 0; i < n; i++)
        e->seq[i] = t->byte_id[p[i]];
    *nout = tok_bpe_merge(&t->pairs, 0, hi, e->seq, n, &e->sc);
    return e->seq;
}

/* The tokens of a piece that missed the small and mid tables: the general cache, else the
 * merges; a piece of one or two tokens also goes into its direct-mapped table. */
const int32_t *tok_encode_piece_miss(tok_encoder *e, const uint8_t *p, size_t n, int32_t hi,
                                     size_t *nout)
{
    uint64_t tag = (uint64_t)hi, h = 0;
    const int32_t *r = n <= CACHE_MAX_KEY ? tok_cache_get(e, tag, p, n, nout, &h) : NULL;
    if (!r) {
        r = merge_piece(e, p, n, hi, nout);
        if (r && n <= CACHE_MAX_KEY)
            tok_cache_put(e, tag, h, p, n, r, *nout);
    }
    if (!r || *nout > SHORT_IDS)
        return r;
    int32_t id[SHORT_IDS] = {r[0], *nout > 1 ? r[1] : 0};
    if (n <= 7) {
        uint64_t key = tok_small_key(p, n);
        *tok_small_slot(e, key, hi) =
            (struct small_entry){key, (uint32_t)hi + 1, (uint32_t)*nout, {id[0], id[1]}};
    } else if (n <= 15) {
        uint64_t mkey[2];
        tok_mid_key(p, n, mkey);
        *tok_mid_slot(e, mkey, hi) = (struct mid_entry){
            {mkey[0], mkey[1]}, (uint32_t)hi + 1, (uint32_t)*nout, {id[0], id[1]}};
    }
    return r;
}

int tok_ids_reserve(tok_ids *ids, size_t cap)
{
    if (cap <= ids->cap)
        return TOK_OK;
    if (cap > SIZE_MAX / sizeof *ids->start)
        return TOK_ENOMEM;
    int32_t *ni = tok_realloc_paged(ids->ids, cap * sizeof *ni);
    if (!ni)
        return TOK_ENOMEM;
    ids->ids = ni;
    size_t *ns = tok_realloc_paged(ids->start, cap * sizeof *ns);
    if (!ns)
        return TOK_ENOMEM;
    ids->start = ns;
    ids->cap = cap;
    return TOK_OK;
}

int tok_reserve_output(tok_ids *out, size_t n, int level)
{
    if (tok_ids_reserve(out, n / (level ? 3 : 1) + 1024) == TOK_OK)
        return TOK_OK;
    return tok_ids_reserve(out, n / 64 + 1024);
}

int tok_ids_push(tok_ids *out, const tok *t, const int32_t *ids, size_t k, size_t start)
{
    if (out->n + k > out->cap) {
        size_t c = out->cap ? out->cap : 1024;
        while (c < out->n + k)
            c *= 2;
        if (tok_ids_reserve(out, c))
            return TOK_ENOMEM;
    }
    if (k == 1) {
        out->ids[out->n] = ids[0];
        out->start[out->n++] = start;
        return TOK_OK;
    }
    for (size_t i = 0; i < k; i++) {
        out->ids[out->n] = ids[i];
        out->start[out->n++] = start;
        start += t->off[ids[i] + 1] - t->off[ids[i]];
    }
    return TOK_OK;
}

/* The superword stage of one line s[cs..ce) made of pieces pcs (pairs of start, end):
 * stage-1 tokens of every piece, then merges [super_start, hi) over the whole run. */
const int32_t *tok_encode_chunk(tok_encoder *e, const uint8_t *s, size_t cs, size_t ce,
                                const size_t *pcs, size_t npcs, int32_t hi, size_t *nout)
{
    const tok *t = e->t;
    int32_t hi1 = t->limit[t->super_level - 1];
    uint64_t tag = (uint64_t)hi << 32 | 1u << 31, h = 0;
    size_t n = ce - cs;
    const int32_t *hit =
        n <= CACHE_MAX_LINE ? tok_cache_get(e, tag, s + cs, n, nout, &h) : NULL;
    if (hit)
        return hit;
    size_t k = 0;
    for (size_t i = 0; i < npcs; i++) {
        size_t m;
        const int32_t *r =
            tok_encode_piece(e, s + pcs[2 * i], pcs[2 * i + 1] - pcs[2 * i], hi1, &m);
        if (!r || grow((void **)&e->seq2, &e->seq2cap, k + m, sizeof *e->seq2))
            return NULL;
        memcpy(e->seq2 + k, r, m * sizeof *r);
        k += m;
    }
    k = tok_bpe_merge(&t->pairs, t->super_start, hi, e->seq2, k, &e->sc);
    if (n <= CACHE_MAX_LINE)
        tok_cache_put(e, tag, h, s + cs, n, e->seq2, k);
    *nout = k;
    return e->seq2;
}

/* tok_ids_push, with the common case (one token, room for it) inline. */
static inline int push(tok_ids *out, const tok *t, const int32_t *ids, size_t k, size_t start)
{
    if (k == 1 && out->n < out->cap) {
        out->ids[out->n] = ids[0];
        out->start[out->n++] = start;
        return TOK_OK;
    }
    return tok_ids_push(out, t, ids, k, start);
}

/* Encodes from `from` (a position where the encoding restarts cleanly: no pre-token or line
 * runs across it) until the first such position at or after `stop`, which goes to *end.
 * Clean positions passed on the way are recorded in sync (up to maxsync). */
static int encode_from(tok_encoder *e, int level, const uint8_t *s, size_t n, size_t from,
                       size_t stop, tok_ids *out, size_t *end, size_t *sync, size_t *nsync,
                       size_t maxsync)
{
    const tok *t = e->t;
    pretok_iter it = {.pos = from};
    size_t ps, pe, m;
    if (level == 0) { /* bytes */
        size_t to = stop < n ? stop : n;
        for (size_t i = from; i < to; i++)
            if (tok_ids_push(out, t, &t->byte_id[s[i]], 1, i))
                return TOK_ENOMEM;
        *end = to;
        return TOK_OK;
    }
    if (!t->super_level || level < t->super_level) {
        int32_t hi = t->limit[level];
        while (it.pos < stop || it.pending) {
            if (!tok_next_piece(e, s, n, &it, &ps, &pe))
                break;
            const int32_t *r = tok_encode_piece(e, s + ps, pe - ps, hi, &m);
            if (!r || push(out, t, r, m, ps))
                return TOK_ENOMEM;
            if (sync && !it.pending && *nsync < maxsync)
                sync[(*nsync)++] = it.pos;
        }
        *end = it.pos;
        return TOK_OK;
    }
    int32_t hi = t->limit[level], hi1 = t->limit[t->super_level - 1];
    size_t npcs = 0, cs = from;
    while (it.pos < stop || it.pending || npcs) {
        bool more = tok_next_piece(e, s, n, &it, &ps, &pe);
        bool nl = more && memchr(s + ps, '\n', pe - ps);
        if (more && !nl) { /* one more piece of the line */
            if (grow((void **)&e->pcs, &e->pcap, 2 * npcs + 2, sizeof *e->pcs))
                return TOK_ENOMEM;
            if (!npcs)
                cs = ps;
            e->pcs[2 * npcs] = ps;
            e->pcs[2 * npcs + 1] = pe;
            npcs++;
            continue;
        }
        if (npcs) { /* the line ends: its superword stage */
            const int32_t *r =
                tok_encode_chunk(e, s, cs, e->pcs[2 * npcs - 1], e->pcs, npcs, hi, &m);
            if (!r || push(out, t, r, m, cs))
                return TOK_ENOMEM;
            npcs = 0;
        }
        if (!more)
            break;
        const int32_t *r = tok_encode_piece(e, s + ps, pe - ps, hi1, &m); /* a newline piece */
        if (!r || push(out, t, r, m, ps))
            return TOK_ENOMEM;
        if (sync && !it.pending && *nsync < maxsync)
            sync[(*nsync)++] = it.pos;
    }
    *end = it.pos;
    return TOK_OK;
}

int tok_check_level(const tok *t, int level)
{
    return level < 0 || level > t->nlevels ? TOK_ERANGE : TOK_OK;
}

int tok_encode(tok_encoder *e, int level, const void *buf, size_t n, tok_ids *out)
{
    out->n = 0;
    if (tok_check_level(e->t, level))
        return TOK_ERANGE;
    if (tok_reserve_output(out, n, level))
        return TOK_ENOMEM;
    size_t end;
    return encode_from(e, level, buf, n, 0, n, out, &end, NULL, NULL, 0);
}

/* ---- parallel encoding ---- */

/* The buffer is cut into PARTS_PER_THREAD parts per thread, taken in turn by the threads (so a
 * slow stretch of text, or a thread that other work on the machine holds back, does not hold
 * the rest back). The parts go into the output in order as soon as they and every part
 * before them are done, by the thread that finished last: after each part the encoding
 * continues, unit by unit (the glue), until it reaches a clean position that the next part
 * also passed; from there that part's tokens are the ones the serial encoding makes. A part's
 * buffer then goes back to a pool for the next part, so that fresh memory (a page fault every
 * 4 KB, which the threads also contend for) is written once, in the output, and not twice.
 * The same machinery encodes one level (tok_encode_parallel) or a range of levels jointly
 * (tok_encode_aligned_parallel): a clean position is one for every level. */
enum { MIN_PER_PART = 1 << 16, PARTS_PER_THREAD = 32, MAX_SYNC = 1 << 14 };

/* A part's tokens, level by level, and the clean positions its encoding passed. */
struct buffer {
    tok_ids lv[TOK_MAX_LEVELS + 1];
    size_t *sync;
    size_t nsync;
    struct buffer *next; /* in the pool */
};

struct part {
    size_t from, stop, end;
    struct buffer *b; /* its tokens, once done; NULL again once in the output */
};

struct pool {
    const uint8_t *s;
    size_t n;
    int lo, hi;  /* the levels encoded */
    int aligned; /* jointly (tok_encode_levels_from), else level lo alone (encode_from) */
    int nparts;
    struct part *parts;
    atomic_int next;      /* the next part to encode */
    pthread_mutex_t lock; /* guards the rest */
    struct buffer *free;  /* buffers to reuse */
    int joined;           /* parts [0, joined) are in the output */
    size_t cur;           /* the output encodes the text up to here */
    tok_ids *out;         /* out[lo..hi] */
    int rc;
};

struct worker {
    struct pool *pool;
    tok_encoder *e;
};

/* The pool's levels of s[from..) into lv[lo..hi], up to the first clean position at or
 * after stop (*end), recording the clean positions passed when sync is not NULL. */
static int encode_range(const struct pool *pl, tok_encoder *e, size_t from, size_t stop,
                        tok_ids *lv, size_t *end, size_t *sync, size_t *nsync)
{
    if (pl->aligned)
        return tok_encode_levels_from(e, pl->lo, pl->hi, pl->s, pl->n, from, stop, lv, end,
                                      sync, nsync, MAX_SYNC);
    return encode_from(e, pl->lo, pl->s, pl->n, from, stop, &lv[pl->lo], end, sync, nsync,
                       MAX_SYNC);
}

static void buffer_free(struct buffer *b)
{
    while (b) {
        struct buffer *next = b->next;
        for (int k = 0; k <= TOK_MAX_LEVELS; k++)
            tok_ids_free(&b->lv[k]);
        free(b->sync);
        free(b);
        b = next;
    }
}

/* The first of a[0..n) (ascending) that is at least pos, or n. */
static size_t lower_bound(const size_t *a, size_t n, size_t pos)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a[mid] < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool in_sync(const struct buffer *b, size_t pos)
{
    size_t i = lower_bound(b->sync, b->nsync, pos);
    return i < b->nsync && b->sync[i] == pos;
}

/* Appends ids[first..) to out. */
static int append_from(tok_ids *out, const tok_ids *ids, size_t first)
{
    size_t m = ids->n - first;
    if (out->n + m > out->cap) {
        size_t c = out->cap ? out->cap : 1024;
        while (c < out->n + m)
            c *= 2;
        if (tok_ids_reserve(out, c))
            return TOK_ENOMEM;
    }
    if (m) {
        memcpy(out->ids + out->n, ids->ids + first, m * sizeof *out->ids);
        memcpy(out->start + out->n, ids->start + first, m * sizeof *out->start);
    }
    out->n += m;
    return TOK_OK;
}

/* Appends part p (done) to the output, after the glue that leads to it; a part the glue runs
 * past adds nothing. The lock is held. */
static int join_part(struct pool *pl, tok_encoder *e, const struct part *p)
{
    const struct buffer *b = p->b;
    int rc = TOK_OK;
    if (pl->joined) {
        while (!rc && pl->cur < p->end && !in_sync(b, pl->cur))
            rc = encode_range(pl, e, pl->cur, pl->cur + 1, pl->out, &pl->cur, NULL, NULL);
        if (rc || pl->cur >= p->end)
            return rc;
    }
    for (int k = pl->lo; k <= pl->hi && !rc; k++)
        rc = append_from(&pl->out[k], &b->lv[k],
                         pl->joined ? lower_bound(b->lv[k].start, b->lv[k].n, pl->cur) : 0);
    pl->cur = p->end;
    return rc;
}

/* Joins every part that is done and has all the parts before it joined. The lock is held. */
static void join_ready(struct pool *pl, tok_encoder *e)
{
    while (!pl->rc && pl->joined < pl->nparts && pl->parts[pl->joined].b) {
        struct part *p = &pl->parts[pl->joined];
        pl->rc = join_part(pl, e, p);
        p->b->next = pl->free; /* back to the pool */
        pl->free = p->b;
        p->b = NULL;
        pl->joined++;
    }
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    struct pool *pl = w->pool;
    for (;;) {
        int k = atomic_fetch_add(&pl->next, 1);
        if (k >= pl->nparts)
            break;
        struct part *p = &pl->parts[k];
        pthread_mutex_lock(&pl->lock);
        struct buffer *b = pl->free;
        if (b) {
            pl->free = b->next;
            b->next = NULL;
        }
        int failed = pl->rc;
        pthread_mutex_unlock(&pl->lock);
        if (failed) {
            buffer_free(b);
            break;
        }
        int rc = TOK_OK;
        if (!b &&
            (!(b = calloc(1, sizeof *b)) || !(b->sync = malloc(MAX_SYNC * sizeof *b->sync))))
            rc = TOK_ENOMEM;
        size_t end = 0;
        if (!rc) {
            /* the counters that change at every token live on this thread's stack, not in
             * memory that the other threads read */
            tok_ids lv[TOK_MAX_LEVELS + 1];
            size_t nsync = 0;
            for (int j = pl->lo; j <= pl->hi; j++) {
                lv[j] = b->lv[j];
                lv[j].n = 0;
            }
            /* room for 2 bytes a token (prose has ~4, code ~3; bytes 1); a part that outgrows
             * it grows */
            for (int j = pl->lo; j <= pl->hi && !rc; j++)
                rc = tok_ids_reserve(&lv[j], (p->stop - p->from) / (j ? 2 : 1) + 1024);
            if (!rc)
                rc = encode_range(pl, w->e, p->from, p->stop, lv, &end, b->sync, &nsync);
            for (int j = pl->lo; j <= pl->hi; j++)
                b->lv[j] = lv[j];
            b->nsync = nsync;
        }
        pthread_mutex_lock(&pl->lock);
        if (rc) {
            if (!pl->rc)
                pl->rc = rc;
            if (b) {
                b->next = pl->free;
                pl->free = b;
            }
        } else {
            p->end = end;
            p->b = b;
            join_ready(pl, w->e);
        }
        pthread_mutex_unlock(&pl->lock);
    }
    return NULL;
}

/* The parts of s[0..n) for nthreads threads: the number of threads that have parts to take
 * (< 2: encode serially), the parts in *np. */
static int plan_parts(int nthreads, size_t n, size_t *np)
{
    int nt = nthreads < 1 ? 1 : nthreads > 256 ? 256 : nthreads;
    *np = (size_t)nt * PARTS_PER_THREAD;
    if (*np > n / MIN_PER_PART)
        *np = n / MIN_PER_PART;
    return (size_t)nt > *np ? (int)*np : nt;
}

/* Encodes pl's levels of its text on nt threads into pl->out[lo..hi], whose buffers the
 * caller has emptied (their capacity is kept). */
static int run_pool(struct pool *pl, const tok *t, int nt, size_t np)
{
    const uint8_t *s = pl->s;
    size_t n = pl->n;
    atomic_init(&pl->next, 0);
    pl->nparts = (int)np;
    int rc = TOK_OK;
    for (int k = pl->lo; k <= pl->hi && !rc; k++)
        rc = tok_reserve_output(&pl->out[k], n, k);
    if (!rc && pthread_mutex_init(&pl->lock, NULL))
        rc = TOK_ENOMEM;
    bool locked = !rc;
    pl->parts = calloc(np, sizeof *pl->parts);
    struct worker *ws = calloc((size_t)nt, sizeof *ws);
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    if (!pl->parts || !ws || !th)
        rc = TOK_ENOMEM;
    for (size_t k = 0; k < np && !rc; k++) {
        struct part *p = &pl->parts[k];
        p->from = n / np * k;
        for (int j = 0; k && j < 3 && p->from < n && (s[p->from] & 0xc0) == 0x80; j++)
            p->from++;
    }
    for (size_t k = 0; k < np && !rc; k++)
        pl->parts[k].stop = k + 1 < np ? pl->parts[k + 1].from : n;
    for (int k = 0; k < nt && !rc; k++) {
        ws[k].pool = pl;
        if (tok_encoder_open(&ws[k].e, t))
            rc = TOK_ENOMEM;
    }
    /* the caller's thread is one of the workers */
    int started = 0;
    for (; started < nt - 1 && !rc; started++)
        if (pthread_create(&th[started], NULL, worker_run, &ws[started + 1])) {
            rc = TOK_ENOMEM; /* not started: not to be joined */
            break;
        }
    if (!rc || started) {
        if (rc) { /* a thread would not start: the ones that did stop after their part */
            pthread_mutex_lock(&pl->lock);
            pl->rc = rc;
            pthread_mutex_unlock(&pl->lock);
        }
        worker_run(&ws[0]);
    }
    for (int k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    if (!rc)
        rc = pl->rc; /* every part is in the output: the last one done joined what was left */
    for (size_t k = 0; pl->parts && k < np; k++)
        buffer_free(pl->parts[k].b);
    buffer_free(pl->free);
    for (int k = 0; ws && k < nt; k++)
        tok_encoder_close(&ws[k].e);
    if (locked)
        pthread_mutex_destroy(&pl->lock);
    free(pl->parts);
    free(ws);
    free(th);
    return rc;
}

int tok_encode_parallel(const tok *t, int level, const void *buf, size_t n, int nthreads,
                        tok_ids *out)
{
    if (tok_check_level(t, level))
        return TOK_ERANGE;
    size_t np;
    int nt = plan_parts(nthreads, n, &np);
    if (nt < 2 || level == 0) {
        tok_encoder *e;
        if (tok_encoder_open(&e, t))
            return TOK_ENOMEM;
        int rc = tok_encode(e, level, buf, n, out);
        tok_encoder_close(&e);
        return rc;
    }
    tok_ids lv[TOK_MAX_LEVELS + 1] = {{0}};
    lv[level] = *out; /* its buffers are reused */
    lv[level].n = 0;
    struct pool pl = {.s = buf, .n = n, .lo = level, .hi = level, .out = lv};
    int rc = run_pool(&pl, t, nt, np);
    *out = lv[level];
    if (rc)
        out->n = 0;
    return rc;
}

int tok_encode_aligned_parallel(const tok *t, int lo, int hi, const void *buf, size_t n,
                                int nthreads, tok_align *out)
{
    memset(out, 0, sizeof *out);
    if (tok_check_level(t, lo) || tok_check_level(t, hi) || lo > hi)
        return TOK_ERANGE;
    size_t np;
    int nt = plan_parts(nthreads, n, &np);
    if (nt < 2) {
        tok_encoder *e;
        if (tok_encoder_open(&e, t))
            return TOK_ENOMEM;
        int rc = tok_encode_aligned(e, lo, hi, buf, n, out);
        tok_encoder_close(&e);
        return rc;
    }
    tok_ids lv[TOK_MAX_LEVELS + 1] = {{0}};
    struct pool pl = {.s = buf, .n = n, .lo = lo, .hi = hi, .aligned = 1, .out = lv};
    int rc = run_pool(&pl, t, nt, np);
    return tok_align_finish(out, lv, lo, hi, n, rc);
}
