/* dataset.c: encoding a split with libtok's joint alignment, and cutting windows whose
 * unit indices and byte offsets are relative to the window, as libmask wants them. */
#include "dataset.h"

#include <stdlib.h>
#include <string.h>

int dataset_encode(struct dataset *d, const tok *t, int lo, const char *text, size_t len,
                   int nthreads)
{
    memset(d, 0, sizeof *d);
    d->text = text;
    d->len = len;
    d->lo = lo;
    d->hi = tok_nlevels(t);
    int rc = tok_encode_aligned_parallel(t, lo, d->hi, text, len, nthreads, &d->align);
    if (rc)
        return rc;
    d->n = d->align.n[lo];
    d->ids = d->align.ids[lo];
    return 0;
}

int32_t dataset_byte_id(const tok *t, int level, unsigned char byte)
{
    tok_encoder *e;
    tok_ids ids = {0};
    int32_t id = -1;
    if (tok_encoder_open(&e, t))
        return -1;
    if (!tok_encode(e, level, &byte, 1, &ids) && ids.n == 1)
        id = ids.ids[0];
    tok_ids_free(&ids);
    tok_encoder_close(&e);
    return id;
}

void dataset_free(struct dataset *d)
{
    tok_align_free(&d->align);
    memset(d, 0, sizeof *d);
}

int window_alloc(struct window *w, int T, int nlevels, int prompt)
{
    memset(w, 0, sizeof *w);
    w->T = T;
    w->prompt = prompt < T ? prompt : T;
    w->nlevels = nlevels;
    w->offsets = malloc((size_t)T * sizeof *w->offsets);
    w->units = malloc((size_t)(nlevels ? nlevels : 1) * (size_t)T * sizeof *w->units);
    w->unit_of = malloc((size_t)(nlevels ? nlevels : 1) * sizeof *w->unit_of);
    if (!w->offsets || !w->units || !w->unit_of) {
        window_free(w);
        return -1;
    }
    for (int j = 0; j < nlevels; j++)
        w->unit_of[j] = w->units + (size_t)j * (size_t)T;
    return 0;
}

void window_free(struct window *w)
{
    free(w->offsets);
    free(w->units);
    free(w->unit_of);
    memset(w, 0, sizeof *w);
}

void dataset_window(const struct dataset *d, size_t start, struct window *w, mask_seq *seq)
{
    int T = w->T;
    const size_t *st = d->align.start[d->lo];
    size_t base = st[start];
    for (int i = 0; i < T; i++)
        w->offsets[i] = (int32_t)(st[start + (size_t)i] - base);
    for (int j = 0; j < w->nlevels; j++) {
        const size_t *unit = d->align.unit[d->lo + 1 + j];
        int32_t *u = w->units + (size_t)j * (size_t)T;
        for (int i = 0; i < T; i++)
            u[i] = (int32_t)(unit[start + (size_t)i] - unit[start]);
    }
    memset(seq, 0, sizeof *seq);
    seq->ids = d->ids + start;
    seq->n = T;
    seq->unit_of = w->nlevels ? w->unit_of : NULL;
    seq->n_levels = w->nlevels;
    seq->text = d->text + base;
    seq->text_len = st[start + (size_t)T] - base;
    seq->offsets = w->offsets;
    seq->prompt_len = w->prompt;
}
