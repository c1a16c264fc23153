/* train.c: training a pyramid: checks the settings, counts pre-tokens, learns the subword
 * merges up to the last level, then the superword merges over lines, and builds the tok. */
#include "tok_impl.h"

#include <stdlib.h>
#include <string.h>

void tok_default_train_settings(tok_train_settings *s)
{
    *s =
        (tok_train_settings){.pretok = "cl100k", .nlevels = 1, .levels = {4096}, .nthreads = 1};
}

void tok_symseqs_free(symseqs *q)
{
    free(q->sym);
    free(q->off);
    free(q->len);
    free(q->count);
    memset(q, 0, sizeof *q);
}

static void vocab_build_free(vocab_build *v)
{
    free(v->bytes);
    free(v->off);
    free(v->left);
    free(v->right);
    free(v->count);
    tok_bytemap_free(&v->seen);
}

static int check_settings(const tok_train_settings *s, tok_err *err)
{
    int L = s->nlevels + (s->superword ? 1 : 0);
    if (s->nlevels < 1 || L > TOK_MAX_LEVELS)
        return tok_fail(err, TOK_EINVAL,
                        "%d levels: give 1 to %d levels (the superword level counts)", L,
                        TOK_MAX_LEVELS);
    for (int k = 0; k < s->nlevels; k++) {
        if (s->levels[k] <= 256)
            return tok_fail(err, TOK_EINVAL,
                            "level %d has %d tokens: a level needs more than the 256 bytes",
                            k + 1, s->levels[k]);
        if (k && s->levels[k] <= s->levels[k - 1])
            return tok_fail(err, TOK_EINVAL, "levels must increase: %d after %d", s->levels[k],
                            s->levels[k - 1]);
    }
    if (s->superword && s->superword <= s->levels[s->nlevels - 1])
        return tok_fail(err, TOK_EINVAL,
                        "the superword total %d is not above the last level %d", s->superword,
                        s->levels[s->nlevels - 1]);
    if (s->superword < 0)
        return tok_fail(err, TOK_EINVAL, "negative superword total %d", s->superword);
    return TOK_OK;
}

/* The words as sequences of byte ids, and the 256 byte tokens with their counts. */
static int start_words(const word_counts *w, symseqs *q, vocab_build *v)
{
    size_t nsym = w->off[w->nwords];
    q->n = w->nwords;
    q->sym = malloc((nsym ? nsym : 1) * sizeof *q->sym);
    q->off = malloc((w->nwords + 1) * sizeof *q->off);
    q->len = malloc((w->nwords ? w->nwords : 1) * sizeof *q->len);
    q->count = malloc((w->nwords ? w->nwords : 1) * sizeof *q->count);
    if (!q->sym || !q->off || !q->len || !q->count)
        return TOK_ENOMEM;
    int64_t bc[256] = {0};
    for (size_t i = 0; i < w->nwords; i++) {
        q->off[i] = w->off[i];
        q->len[i] = (uint32_t)(w->off[i + 1] - w->off[i]);
        q->count[i] = w->count[i];
        for (size_t j = w->off[i]; j < w->off[i + 1]; j++) {
            q->sym[j] = w->bytes[j];
            bc[w->bytes[j]] += w->count[i];
        }
    }
    q->off[w->nwords] = nsym;
    if (tok_bytemap_init(&v->seen, 1 << 16))
        return TOK_ENOMEM;
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        if (tok_vocab_build_push(v, &c, 1, -1, -1, bc[b]))
            return TOK_ENOMEM;
    }
    return TOK_OK;
}

static int build_tok(tok **out, const vocab_build *v, const tok_train_settings *s,
                     const pretok *pre, tok_err *err)
{
    tok *t;
    if (tok_alloc(&t, v->ntok, v->nbytes))
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    memcpy(t->bytes, v->bytes, v->nbytes);
    memcpy(t->off, v->off, ((size_t)v->ntok + 1) * sizeof *t->off);
    memcpy(t->left, v->left, (size_t)v->ntok * sizeof *t->left);
    memcpy(t->right, v->right, (size_t)v->ntok * sizeof *t->right);
    memcpy(t->count, v->count, (size_t)v->ntok * sizeof *t->count);
    int L = s->nlevels + (s->superword ? 1 : 0);
    t->nlevels = L;
    t->vocab[0] = 256;
    t->limit[0] = 256;
    for (int k = 1; k <= L; k++)
        t->vocab[k] = t->limit[k] = k <= s->nlevels ? s->levels[k - 1] : s->superword;
    if (s->superword) {
        t->super_level = L;
        t->super_start = s->levels[s->nlevels - 1];
    }
    int k = 1;
    for (int32_t id = 256; id < t->ntok; id++) {
        while (id >= t->vocab[k])
            k++;
        t->level[id] = (uint8_t)k;
        t->stage[id] = t->super_level == k ? TOK_STAGE_SUPERWORD : TOK_STAGE_SUBWORD;
    }
    t->rule = RULE_MERGES;
    t->pattern = strdup(tok_pretok_pattern(pre));
    int rc = t->pattern ? tok_finish(t, err) : tok_fail(err, TOK_ENOMEM, "out of memory");
    if (rc)
        tok_close(&t);
    *out = t;
    return rc;
}

static int train(tok **out, const tok_train_settings *s, const train_text *texts, int ntexts,
                 tok_err *err)
{
    *out = NULL;
    int rc = check_settings(s, err);
    if (rc)
        return rc;
    if (ntexts < 1)
        return tok_fail(err, TOK_ECORPUS, "no corpus given");
    pretok *pre = NULL;
    word_counts w = {0};
    symseqs q = {0}, lines = {0};
    vocab_build v = {0};
    if ((rc = tok_pretok_compile(&pre, s->pretok ? s->pretok : "cl100k", err)))
        goto done;
    if ((rc = tok_count_pretokens(pre, texts, ntexts, s->nthreads, s, &w, err)))
        goto done;
    if (start_words(&w, &q, &v)) {
        rc = tok_fail(err, TOK_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = tok_bpe_learn(&v, &q, s->levels[s->nlevels - 1], TOK_STAGE_SUBWORD, s, err)))
        goto done;
    if (s->superword) {
        if ((rc = tok_count_chunks(pre, texts, ntexts, &w, &q, &lines, err)))
            goto done;
        tok_symseqs_free(&q);
        tok_word_counts_free(&w);
        if ((rc = tok_bpe_learn(&v, &lines, s->superword, TOK_STAGE_SUPERWORD, s, err)))
            goto done;
    }
    rc = build_tok(out, &v, s, pre, err);
done:
    tok_pretok_free(&pre);
    tok_word_counts_free(&w);
    tok_symseqs_free(&q);
    tok_symseqs_free(&lines);
    vocab_build_free(&v);
    return rc;
}

int tok_train_files(tok **out, const tok_train_settings *s, const char *const *paths,
                    int npaths, tok_err *err)
{
    tok_err_clear(err);
    *out = NULL;
    train_text *tx = calloc(npaths > 0 ? (size_t)npaths : 1, sizeof *tx);
    if (!tx)
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (int i = 0; i < npaths; i++)
        tx[i].path = paths[i];
    int rc = train(out, s, tx, npaths, err);
    free(tx);
    return rc;
}

int tok_train_buffers(tok **out, const tok_train_settings *s, const void *const *texts,
                      const size_t *lens, int ntexts, tok_err *err)
{
    tok_err_clear(err);
    *out = NULL;
    train_text *tx = calloc(ntexts > 0 ? (size_t)ntexts : 1, sizeof *tx);
    if (!tx)
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (int i = 0; i < ntexts; i++) {
        tx[i].buf = texts[i];
        tx[i].len = lens[i];
    }
    int rc = train(out, s, tx, ntexts, err);
    free(tx);
    return rc;
}
