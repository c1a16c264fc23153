/* libmask benchmark: corruptions of a batch of 64 x 256 tokens per second for every structure
 * (the costlier type and importance options, a 2-stage chain), as a share of a training step. */
#include "bench.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_rng.h>

#include "mask.h"

enum { B = 64, T = 256, V = 4096 };

/* A token stream without libtok: pre-tokens (an optional space and a run of letters, digits,
 * other bytes, or blanks) cut into tokens of at most 4 bytes; level 1 = pre-tokens,
 * level 2 = lines. Ids hash the token's bytes. */
typedef struct stream {
    char *text;
    size_t len;
    int n;
    int32_t *ids, *off, *word, *line;
} stream;

static int byte_class(unsigned char c)
{
    return isalpha(c) || c >= 0x80 ? 1 : isdigit(c) ? 2 : isspace(c) ? 3 : 4;
}

static void push(stream *s, size_t b, size_t e, int32_t w, int32_t l)
{
    uint32_t h = 2166136261u;
    for (size_t i = b; i < e; i++)
        h = (h ^ (unsigned char)s->text[i]) * 16777619u;
    s->ids[s->n] = (int32_t)(h % V);
    s->off[s->n] = (int32_t)b;
    s->word[s->n] = w;
    s->line[s->n] = l;
    s->n++;
}

static int load(stream *s, const char *path, size_t max_bytes)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    s->text = malloc(max_bytes + 1);
    s->len = fread(s->text, 1, max_bytes, f);
    fclose(f);
    s->ids = malloc(s->len * sizeof *s->ids);
    s->off = malloc(s->len * sizeof *s->off);
    s->word = malloc(s->len * sizeof *s->word);
    s->line = malloc(s->len * sizeof *s->line);
    s->n = 0;
    int32_t w = 0, l = 0;
    for (size_t b = 0; b < s->len;) {
        size_t e = b;
        if (s->text[e] == ' ' && e + 1 < s->len &&
            byte_class((unsigned char)s->text[e + 1]) < 3)
            e++;
        int c = byte_class((unsigned char)s->text[e]);
        while (e < s->len && byte_class((unsigned char)s->text[e]) == c && s->text[e] != '\n')
            e++;
        if (e < s->len && s->text[e] == '\n' && c == 3)
            e++;
        if (e == b)
            e++;
        for (size_t t = b; t < e; t += 4)
            push(s, t, t + 4 < e ? t + 4 : e, w, l);
        if (memchr(s->text + b, '\n', e - b))
            l++;
        w++;
        b = e;
    }
    return 0;
}

typedef struct config {
    const char *label;
    mask_structure structure;
    mask_type_policy types;
    mask_importance_mode mode;
    int chain; /* stages of the coarse-to-fine chain (0 = flat) */
} config;

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mask_bench CORPUS IMPORTANCE_RULES [STEP_SECONDS [ONLY "
                        "[BATCHES]]]\n  ONLY: one corruption label; BATCHES: a fixed count "
                        "(0 = set-up only), else about 0.5 s each\n");
        return 2;
    }
    /* the small denoiser (V 4096, d 128, 4 layers, 4 heads, T 128, batch 32) trains about
     * 10,700 tokens/s in PyTorch on the reference 2-core machine: 4096 / 10700 s a step */
    double step_s = argc > 3 ? atof(argv[3]) : 4096.0 / 10700.0;
    const char *only = argc > 4 ? argv[4] : NULL;
    long fixed = argc > 5 ? atol(argv[5]) : -1;
    stream s;
    if (load(&s, argv[1], 4u << 20) || s.n < B * T) {
        fprintf(stderr, "mask_bench: %s: cannot read %d tokens\n", argv[1], B * T);
        return 1;
    }
    /* 64 windows of 256 tokens spread over the corpus, unit indices as the caller gives them */
    mask_seq seqs[B];
    const int32_t *unit_of[B][2];
    for (int b = 0; b < B; b++) {
        int start = (int)((long)b * (s.n - T) / B);
        size_t base = (size_t)s.off[start];
        size_t end = start + T < s.n ? (size_t)s.off[start + T] : s.len;
        int32_t *off = malloc(T * sizeof *off);
        for (int i = 0; i < T; i++)
            off[i] = s.off[start + i] - (int32_t)base;
        unit_of[b][0] = s.word + start;
        unit_of[b][1] = s.line + start;
        seqs[b] = (mask_seq){.ids = s.ids + start,
                             .n = T,
                             .unit_of = unit_of[b],
                             .n_levels = 2,
                             .text = s.text + base,
                             .text_len = end - base,
                             .offsets = off,
                             .prompt_len = T / 4};
    }
    mask_out outs[B];
    for (int b = 0; b < B; b++)
        outs[b] = (mask_out){
            malloc(T * sizeof(int32_t)), malloc(T), malloc(T * sizeof(float)), malloc(T), 0,
            malloc(T * sizeof(int32_t)), malloc(T)};
    const config configs[] = {
        {"token", MASK_STRUCT_TOKEN, MASK_TYPES_SINGLE, MASK_IMPORTANCE_OFF, 0},
        {"span", MASK_STRUCT_SPAN, MASK_TYPES_SINGLE, MASK_IMPORTANCE_OFF, 0},
        {"unit", MASK_STRUCT_UNIT, MASK_TYPES_SINGLE, MASK_IMPORTANCE_OFF, 0},
        {"regex", MASK_STRUCT_REGEX, MASK_TYPES_SINGLE, MASK_IMPORTANCE_OFF, 0},
        {"block", MASK_STRUCT_BLOCK, MASK_TYPES_SINGLE, MASK_IMPORTANCE_OFF, 0},
        {"response", MASK_STRUCT_RESPONSE, MASK_TYPES_SINGLE, MASK_IMPORTANCE_OFF, 0},
        {"token+level", MASK_STRUCT_TOKEN, MASK_TYPES_LEVEL, MASK_IMPORTANCE_OFF, 0},
        {"token+class", MASK_STRUCT_TOKEN, MASK_TYPES_CLASS, MASK_IMPORTANCE_OFF, 0},
        {"unit+length", MASK_STRUCT_UNIT, MASK_TYPES_LENGTH, MASK_IMPORTANCE_OFF, 0},
        {"token+rules/loss", MASK_STRUCT_TOKEN, MASK_TYPES_SINGLE, MASK_IMPORTANCE_WEIGHT_LOSS,
         0},
        {"token+rules/schedule", MASK_STRUCT_TOKEN, MASK_TYPES_SINGLE, MASK_IMPORTANCE_SCHEDULE,
         0},
        {"unit+rules/schedule", MASK_STRUCT_UNIT, MASK_TYPES_SINGLE, MASK_IMPORTANCE_SCHEDULE,
         0},
        {"token+chain2", MASK_STRUCT_TOKEN, MASK_TYPES_SINGLE, MASK_IMPORTANCE_OFF, 2},
        {"span+chain2", MASK_STRUCT_SPAN, MASK_TYPES_SINGLE, MASK_IMPORTANCE_OFF, 2},
        {"unit+chain2", MASK_STRUCT_UNIT, MASK_TYPES_SINGLE, MASK_IMPORTANCE_OFF, 2},
        {"unit+rules/schedule+chain2", MASK_STRUCT_UNIT, MASK_TYPES_SINGLE,
         MASK_IMPORTANCE_SCHEDULE, 2},
    };
    /* a 2-stage chain shaped like "prefix:1, class": 4096 tokens -> 512 -> 6 descriptions */
    static int32_t chain1[V], chain2[512];
    for (int v = 0; v < V; v++)
        chain1[v] = (int32_t)((v * 2654435761u) % 512u);
    for (int d = 0; d < 512; d++)
        chain2[d] = (int32_t)(d % 6);
    printf("corpus %s: batch %d x %d tokens; training step %.3f s\n", argv[1], B, T, step_s);
    printf("%-28s %10s %12s %12s %10s\n", "corruption", "ms/batch", "batches/s", "seqs/s",
           "% of step");
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    int status = 0;
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        if (only && strcmp(only, configs[c].label) != 0)
            continue;
        mask_settings set;
        mask_default_settings(&set);
        set.vocab_size = V;
        set.structure = configs[c].structure;
        set.types = configs[c].types;
        set.n_levels = 2;
        set.unit_level = 1;
        set.importance_mode = configs[c].mode;
        set.chain_length = configs[c].chain;
        set.chain_map[0] = chain1, set.chain_map[1] = chain2;
        set.chain_size[0] = 512, set.chain_size[1] = 6;
        if (configs[c].mode != MASK_IMPORTANCE_OFF) {
            set.importance = MASK_IMPORTANCE_RULES;
            set.importance_rules = argv[2];
        }
        mask *m = NULL;
        if (mask_open(&m, &set)) {
            fprintf(stderr, "mask_bench: %s: %s\n", configs[c].label, mask_errmsg(m));
            mask_close(&m);
            status = 1;
            continue;
        }
        gsl_rng_set(r, 1);
        long iters = 0;
        double t0 = now(), elapsed = 0;
        while (fixed >= 0 ? iters < fixed : elapsed < 0.5 || iters < 5) {
            if (mask_corrupt_batch(m, seqs, B, iters, r, outs)) {
                fprintf(stderr, "mask_bench: %s: %s\n", configs[c].label, mask_errmsg(m));
                status = 1;
                break;
            }
            iters++;
            elapsed = now() - t0;
        }
        double per = iters ? elapsed / iters : 0;
        if (iters)
            printf("%-28s %10.3f %12.0f %12.0f %9.3f%%\n", configs[c].label, per * 1e3, 1 / per,
                   B / per, 100 * per / step_s);
        else
            printf("%-28s (set-up only)\n", configs[c].label);
        mask_close(&m);
    }
    gsl_rng_free(r);
    for (int b = 0; b < B; b++) {
        free((void *)seqs[b].offsets);
        free(outs[b].ids), free(outs[b].masked), free(outs[b].weight), free(outs[b].type);
        free(outs[b].target), free(outs[b].level);
    }
    free(s.text), free(s.ids), free(s.off), free(s.word), free(s.line);
    return status;
}
