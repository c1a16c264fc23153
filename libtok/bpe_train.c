/* bpe_train.c: the BPE merge loop of training: pair counts over unique sequences, updated
 * incrementally per merge, the best pair taken from a lazy max-heap (count, then ids). */
#include "tok_impl.h"

#include <stdlib.h>
#include <string.h>

struct pstat {
    int64_t cnt;
    int32_t *wl; /* sequences holding the pair (some stale, none repeated in a row) */
    uint32_t wn, wcap;
    int32_t l, r;
    int32_t last;    /* the sequence added last to wl, -1 if none */
    int32_t touched; /* merge number that last created it */
    bool banned;     /* merged already, or its bytes are already a token */
};

struct hentry {
    int64_t cnt;
    int32_t l, r;
};

struct learner {
    symseqs *q;
    pairmap pm; /* pair -> index into ps */
    struct pstat *ps;
    size_t np, pcap;
    struct hentry *heap;
    size_t hn, hcap;
    int32_t *fresh; /* pairs created by the current merge */
    size_t nfresh, fcap;
    uint8_t *mark;
    size_t mcap;
};

/* true if a goes before b: higher count, then smaller left id, then smaller right id */
static inline bool before(const struct hentry *a, const struct hentry *b)
{
    if (a->cnt != b->cnt)
        return a->cnt > b->cnt;
    if (a->l != b->l)
        return a->l < b->l;
    return a->r < b->r;
}

static void sift_down(struct hentry *h, size_t n, size_t i)
{
    struct hentry v = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&h[c + 1], &h[c]))
            c++;
        if (!before(&h[c], &v))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
}

static int heap_push(struct learner *L, struct hentry v)
{
    if (L->hn == L->hcap) {
        size_t nc = L->hcap ? L->hcap * 2 : 1 << 12;
        struct hentry *nh = realloc(L->heap, nc * sizeof *nh);
        if (!nh)
            return TOK_ENOMEM;
        L->heap = nh;
        L->hcap = nc;
    }
    size_t i = L->hn++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&v, &L->heap[p]))
            break;
        L->heap[i] = L->heap[p];
        i = p;
    }
    L->heap[i] = v;
    return TOK_OK;
}

static struct hentry heap_pop(struct learner *L)
{
    struct hentry top = L->heap[0];
    L->heap[0] = L->heap[--L->hn];
    if (L->hn)
        sift_down(L->heap, L->hn, 0);
    return top;
}

/* index of pair (l, r), added with count 0 if new; -1 when out of memory */
static int32_t pair_index(struct learner *L, int32_t l, int32_t r)
{
    int32_t i = tok_pairmap_get(&L->pm, l, r);
    if (i >= 0)
        return i;
    if (L->np == L->pcap) {
        size_t nc = L->pcap ? L->pcap * 2 : 1 << 14;
        struct pstat *n = realloc(L->ps, nc * sizeof *n);
        if (!n)
            return -1;
        L->ps = n;
        L->pcap = nc;
    }
    i = (int32_t)L->np++;
    L->ps[i] = (struct pstat){.l = l, .r = r, .last = -1, .touched = -1};
    if (tok_pairmap_put(&L->pm, l, r, i))
        return -1;
    return i;
}

static int add_word(struct pstat *p, int32_t w)
{
    if (p->last == w)
        return TOK_OK;
    p->last = w;
    if (p->wn == p->wcap) {
        uint32_t nc = p->wcap ? p->wcap * 2 : 4;
        int32_t *n = realloc(p->wl, nc * sizeof *n);
        if (!n)
            return TOK_ENOMEM;
        p->wl = n;
        p->wcap = nc;
    }
    p->wl[p->wn++] = w;
    return TOK_OK;
}

static int count_all_pairs(struct learner *L)
{
    symseqs *q = L->q;
    for (size_t w = 0; w < q->n; w++) {
        const int32_t *s = q->sym + q->off[w];
        for (uint32_t i = 0; i + 1 < q->len[w]; i++) {
            int32_t k = pair_index(L, s[i], s[i + 1]);
            if (k < 0 || add_word(&L->ps[k], (int32_t)w))
                return TOK_ENOMEM;
            L->ps[k].cnt += q->count[w];
        }
    }
    for (size_t k = 0; k < L->np; k++)
        if (heap_push(L, (struct hentry){L->ps[k].cnt, L->ps[k].l, L->ps[k].r}))
            return TOK_ENOMEM;
    return TOK_OK;
}

/* Replaces every (a, b) in sequence w by c (left to right) and updates the pair counts. */
static int merge_in(struct learner *L, int32_t w, int32_t a, int32_t b, int32_t c, int32_t mno)
{
    symseqs *q = L->q;
    int32_t *s = q->sym + q->off[w];
    size_t n = q->len[w];
    int64_t cw = q->count[w];
    if (n > L->mcap) {
        uint8_t *nm = realloc(L->mark, n);
        if (!nm)
            return TOK_ENOMEM;
        L->mark = nm;
        L->mcap = n;
    }
    uint8_t *mk = L->mark;
    bool any = false;
    for (size_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            mk[i] = 1;
            mk[i + 1] = 2;
            i += 2;
            any = true;
        } else {
            mk[i++] = 0;
        }
    }
    if (!any)
        return TOK_OK; /* a stale entry of the word list */
    for (size_t i = 0; i + 1 < n; i++)
        if (mk[i] || mk[i + 1])
            L->ps[tok_pairmap_get(&L->pm, s[i], s[i + 1])].cnt -= cw;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (mk[i] == 2)
            continue;
        s[j++] = mk[i] == 1 ? c : s[i];
    }
    q->len[w] = (uint32_t)j;
    for (size_t i = 0; i + 1 < j; i++) {
        if (s[i] != c && s[i + 1] != c)
            continue;
        int32_t k = pair_index(L, s[i], s[i + 1]);
        if (k < 0)
            return TOK_ENOMEM;
        struct pstat *p = &L->ps[k];
        p->cnt += cw;
        if (add_word(p, w))
            return TOK_ENOMEM;
        if (p->touched != mno) {
            p->touched = mno;
            if (L->nfresh == L->fcap) {
                size_t nc = L->fcap ? L->fcap * 2 : 256;
                int32_t *nf = realloc(L->fresh, nc * sizeof *nf);
                if (!nf)
                    return TOK_ENOMEM;
                L->fresh = nf;
                L->fcap = nc;
            }
            L->fresh[L->nfresh++] = k;
        }
    }
    return TOK_OK;
}

int tok_vocab_build_push(vocab_build *v, const uint8_t *p, size_t n, int32_t l, int32_t r,
                         int64_t count)
{
    if (v->ntok == v->cap) {
        int32_t nc = v->cap ? v->cap * 2 : 1024;
        size_t *no = realloc(v->off, ((size_t)nc + 1) * sizeof *no);
        if (!no)
            return TOK_ENOMEM;
        v->off = no;
        int32_t *nl = realloc(v->left, (size_t)nc * sizeof *nl);
        if (!nl)
            return TOK_ENOMEM;
        v->left = nl;
        int32_t *nr = realloc(v->right, (size_t)nc * sizeof *nr);
        if (!nr)
            return TOK_ENOMEM;
        v->right = nr;
        int64_t *ncnt = realloc(v->count, (size_t)nc * sizeof *ncnt);
        if (!ncnt)
            return TOK_ENOMEM;
        v->count = ncnt;
        v->cap = nc;
        if (v->ntok == 0)
            v->off[0] = 0;
    }
    if (v->nbytes + n > v->bcap) {
        size_t nc = v->bcap ? v->bcap * 2 : 1 << 16;
        while (nc < v->nbytes + n)
            nc *= 2;
        uint8_t *nb = realloc(v->bytes, nc);
        if (!nb)
            return TOK_ENOMEM;
        v->bytes = nb;
        v->bcap = nc;
    }
    memcpy(v->bytes + v->nbytes, p, n);
    v->nbytes += n;
    int32_t id = v->ntok++;
    v->off[id + 1] = v->nbytes;
    v->left[id] = l;
    v->right[id] = r;
    v->count[id] = count;
    if (tok_bytemap_add(&v->seen, (bytestrs){v->bytes, v->off}, id) < 0)
        return TOK_ENOMEM;
    return TOK_OK;
}

static void learner_free(struct learner *L)
{
    for (size_t k = 0; k < L->np; k++)
        free(L->ps[k].wl);
    free(L->ps);
    tok_pairmap_free(&L->pm);
    free(L->heap);
    free(L->fresh);
    free(L->mark);
}

int tok_bpe_learn(vocab_build *v, symseqs *q, int32_t target, int stage,
                  const tok_train_settings *s, tok_err *err)
{
    (void)stage;
    struct learner L = {.q = q};
    int rc = tok_pairmap_init(&L.pm, 1 << 16);
    if (!rc)
        rc = count_all_pairs(&L);
    uint8_t *cat = NULL;
    size_t catcap = 0;
    int32_t start = v->ntok;
    while (!rc && v->ntok < target) {
        if (!L.hn) {
            rc = tok_fail(
                err, TOK_ECORPUS,
                "the corpus is too small: no pair is left to merge at %d tokens (%d asked)",
                v->ntok, target);
            break;
        }
        struct hentry top = heap_pop(&L);
        int32_t k = tok_pairmap_get(&L.pm, top.l, top.r);
        struct pstat *p = &L.ps[k];
        if (p->banned || p->cnt <= 0)
            continue;
        if (p->cnt != top.cnt) { /* stale: counts only fall, so re-queue the true count */
            rc = heap_push(&L, (struct hentry){p->cnt, p->l, p->r});
            continue;
        }
        size_t ln = v->off[top.l + 1] - v->off[top.l], rn = v->off[top.r + 1] - v->off[top.r];
        if (ln + rn > catcap) {
            catcap = 2 * (ln + rn);
            uint8_t *nc = realloc(cat, catcap);
            if (!nc) {
                rc = TOK_ENOMEM;
                break;
            }
            cat = nc;
        }
        memcpy(cat, v->bytes + v->off[top.l], ln);
        memcpy(cat + ln, v->bytes + v->off[top.r], rn);
        p->banned = true;
        if (tok_bytemap_get(&v->seen, (bytestrs){v->bytes, v->off}, cat, ln + rn) >= 0)
            continue;
        int32_t c = v->ntok;
        if ((rc = tok_vocab_build_push(v, cat, ln + rn, top.l, top.r, p->cnt)))
            break;
        int32_t *wl = p->wl; /* L.ps may move below; this list does not change */
        uint32_t wn = p->wn;
        L.nfresh = 0;
        for (uint32_t i = 0; i < wn && !rc; i++)
            rc = merge_in(&L, wl[i], top.l, top.r, c, c);
        p = &L.ps[k];
        p->cnt = 0;
        free(p->wl);
        p->wl = NULL;
        p->wn = p->wcap = 0;
        for (size_t i = 0; i < L.nfresh && !rc; i++) {
            struct pstat *f = &L.ps[L.fresh[i]];
            if (f->cnt > 0)
                rc = heap_push(&L, (struct hentry){f->cnt, f->l, f->r});
        }
        if (s->progress && (c & 255) == 0)
            s->progress(s->progress_ctx,
                        stage == TOK_STAGE_SUPERWORD ? "superword merges" : "merges",
                        (double)(c - start), (double)(target - start));
    }
    if (rc == TOK_ENOMEM)
        rc = tok_fail(err, rc, "out of memory while merging");
    free(cat);
    learner_free(&L);
    return rc;
}
