/* export_formats.c: one level of a pyramid as files other tokenizers load (a HuggingFace
 * tokenizer.json, a tiktoken rank file), and the checks that they encode exactly as libtok. */
#include "tok_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a growing output buffer ---- */

struct out {
    char *p;
    size_t n, cap;
    int oom;
};

static void put(struct out *o, const void *s, size_t n)
{
    if (o->oom)
        return;
    if (o->n + n > o->cap) {
        size_t c = o->cap ? o->cap : 1 << 16;
        while (c < o->n + n)
            c *= 2;
        char *q = realloc(o->p, c);
        if (!q) {
            o->oom = 1;
            return;
        }
        o->p = q;
        o->cap = c;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, long v)
{
    char b[32];
    int k = snprintf(b, sizeof b, fmt, v);
    put(o, b, (size_t)k);
}

static void put_utf8(struct out *o, uint32_t c)
{
    uint8_t b[4];
    size_t n;
    if (c < 0x80) {
        b[0] = (uint8_t)c;
        n = 1;
    } else if (c < 0x800) {
        b[0] = (uint8_t)(0xC0 | c >> 6);
        b[1] = (uint8_t)(0x80 | (c & 0x3F));
        n = 2;
    } else {
        b[0] = (uint8_t)(0xE0 | c >> 12);
        b[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        b[2] = (uint8_t)(0x80 | (c & 0x3F));
        n = 3;
    }
    put(o, b, n);
}

/* A JSON string of UTF-8 text s[0..n): quotes, backslashes and control bytes escaped. */
static void put_json_str(struct out *o, const char *s, size_t n)
{
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(o, e, 2);
        } else if (c < 0x20) {
            putf(o, "\\u%04lx", c);
        } else {
            put(o, &s[i], 1);
        }
    }
    put(o, "\"", 1);
}

static int flush_to(int fd, const struct out *o, const char *path, tok_err *err)
{
    if (o->oom)
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    fchmod(fd, 0644); /* for other tools to read (the temporary file is 0600) */
    size_t done = 0;
    while (done < o->n) {
        ssize_t w = write(fd, o->p + done, o->n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return tok_fail(err, TOK_EIO, "%s: %s", path, strerror(errno));
        done += (size_t)w;
    }
    return TOK_OK;
}

/* ---- what a level is, and whether a format can say it ---- */

/* A token's bytes shown for a message: printable ASCII as is, others as \xHH. */
static const char *show(const tok *t, int32_t id, char *buf, size_t cap)
{
    size_t n, k = 0;
    const uint8_t *p = tok_bytes_of(t, id, &n);
    for (size_t i = 0; i < n && k + 5 < cap; i++)
        k += (size_t)(p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\''
                          ? snprintf(buf + k, cap - k, "%c", p[i])
                          : snprintf(buf + k, cap - k, "\\x%02X", p[i]));
    buf[k] = 0;
    return buf;
}

static int in_level(const tok *t, int32_t id, int level)
{
    return t->level[id] <= level;
}

/* What every format needs: a level of the pyramid, subword, with a preset pre-tokenizer. */
static int check_common(const tok *t, int level, const char *fmt, tok_err *err)
{
    if (level < 0 || level > t->nlevels)
        return tok_fail(err, TOK_ERANGE, "level %d: the pyramid has levels 0..%d", level,
                        t->nlevels);
    if (level > 0 && level == t->super_level)
        return tok_fail(err, TOK_EINVAL,
                        "level %d is a superword level: its merges join pre-tokens after "
                        "each pre-token's own merges are done, and %s merges inside one "
                        "pre-token only",
                        level, fmt);
    if (!tok_preset_pattern(t->pretok_name))
        return tok_fail(err, TOK_EINVAL,
                        "the pre-tokenizer is a custom PCRE2 pattern: only the presets (gpt2, "
                        "cl100k, o200k, code, whitespace) are checked to split text the same "
                        "in PCRE2, in Oniguruma (tokenizers) and in fancy-regex (tiktoken)");
    return TOK_OK;
}

/* The bytes of token id as single-byte token ids, into s (room for the token's length). */
static size_t as_bytes(const tok *t, int32_t id, int32_t *s)
{
    size_t n;
    const uint8_t *p = tok_bytes_of(t, id, &n);
    for (size_t i = 0; i < n; i++)
        s[i] = t->byte_id[p[i]];
    return n;
}

static size_t longest_token(const tok *t)
{
    size_t m = 1;
    for (int32_t id = 0; id < t->ntok; id++)
        if (t->off[id + 1] - t->off[id] > m)
            m = t->off[id + 1] - t->off[id];
    return m;
}

/* tiktoken merges any two adjacent parts whose concatenation is a token, lowest rank first,
 * and gives a pre-token that is a token that token; libtok's trained pyramids merge only a
 * token's own two parts. The two agree on every text when every token of the level is
 * "proper": merging its bytes alone by its level's merges gives the token itself. (Proof
 * sketch: merges run in rank order and a merge's parts are older than it, so two parts x, y
 * whose concatenation is a token u but which are not u's merge can be adjacent only where
 * the bytes of u were cut between them; a run of parts that stays whole evolves as its bytes
 * alone do, and alone they become u's two parts just before u's rank and u after it.) */
static int check_proper(const tok *t, int level, tok_err *err)
{
    size_t cap = longest_token(t);
    int32_t *s = malloc(cap * sizeof *s);
    merge_scratch sc = {0};
    int rc = s ? TOK_OK : tok_fail(err, TOK_ENOMEM, "out of memory");
    for (int32_t id = 0; !rc && id < t->ntok; id++) {
        if (!in_level(t, id, level) || t->off[id + 1] - t->off[id] < 2)
            continue;
        size_t n = as_bytes(t, id, s);
        n = tok_bpe_merge(&t->pairs, 0, t->limit[level], s, n, &sc);
        if (n != 1 || s[0] != id) {
            char b1[160], b2[64], b3[64];
            rc = tok_fail(err, TOK_EINVAL,
                          "token %d '%s' is not what its own bytes encode to at level %d "
                          "(%zu tokens: %d '%s', %d '%s'%s): tiktoken gives a pre-token that "
                          "is a token that token, and would merge other parts than this "
                          "pyramid does",
                          id, show(t, id, b1, sizeof b1), level, n, s[0],
                          show(t, s[0], b2, sizeof b2), n > 1 ? s[1] : -1,
                          n > 1 ? show(t, s[1], b3, sizeof b3) : "", n > 2 ? ", ..." : "");
        }
    }
    tok_merge_scratch_free(&sc);
    free(s);
    return rc;
}

/* The merges of a tokenizer.json for `level`: (*left)[i], (*right)[i] make the i-th token of
 * the level with two or more bytes, in rank order, *n of them. A trained pyramid gives its own
 * merges. An imported tiktoken pyramid has none: each token gets the two parts that
 * tiktoken's rule, run on its bytes with the tokens of lower rank only, ends with (the merge
 * tiktoken itself makes to reach it); with those merges, a merge list encodes as tiktoken
 * when again every token is proper, which is checked here as well. */
static int hf_merges(const tok *t, int level, int32_t **left, int32_t **right, size_t *n,
                     tok_err *err)
{
    size_t cap = longest_token(t), k = 0;
    int32_t *s = malloc(cap * sizeof *s);
    *left = malloc((size_t)t->ntok * sizeof **left);
    *right = malloc((size_t)t->ntok * sizeof **right);
    merge_scratch sc = {0};
    pairmap own = {0};
    int rc = TOK_OK;
    if (!s || !*left || !*right || tok_pairmap_init(&own, (size_t)t->ntok))
        rc = tok_fail(err, TOK_ENOMEM, "out of memory");
    for (int32_t id = 0; !rc && id < t->ntok; id++) {
        if (!in_level(t, id, level) || t->off[id + 1] - t->off[id] < 2)
            continue;
        int32_t l = t->left[id], r = t->right[id];
        if (t->rule == RULE_RANKS) {
            size_t m = tok_bpe_merge(&t->pairs, 0, id, s, as_bytes(t, id, s), &sc);
            if (m != 2) {
                char b[160];
                rc = tok_fail(err, TOK_EINVAL,
                              "token %d '%s' is not made by tiktoken from two tokens of lower "
                              "rank (its bytes end as %zu tokens): tiktoken gives it only to "
                              "a pre-token that is exactly its bytes, which a merge list "
                              "cannot say",
                              id, show(t, id, b, sizeof b), m);
                break;
            }
            l = s[0];
            r = s[1];
        }
        (*left)[k] = l;
        (*right)[k++] = r;
        if (tok_pairmap_put(&own, l, r, id))
            rc = tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    for (int32_t id = 0; !rc && t->rule == RULE_RANKS && id < t->ntok; id++) {
        if (!in_level(t, id, level) || t->off[id + 1] - t->off[id] < 2)
            continue;
        size_t m = tok_bpe_merge(&own, 0, t->limit[level], s, as_bytes(t, id, s), &sc);
        if (m != 1 || s[0] != id) {
            char b[160];
            rc = tok_fail(err, TOK_EINVAL,
                          "token %d '%s': the merges that tiktoken makes to reach each token "
                          "encode its bytes as %zu tokens, so a merge list would encode "
                          "differently from tiktoken",
                          id, show(t, id, b, sizeof b), m);
        }
    }
    tok_pairmap_free(&own);
    tok_merge_scratch_free(&sc);
    free(s);
    if (rc) {
        free(*left);
        free(*right);
        *left = *right = NULL;
    }
    *n = k;
    return rc;
}

int tok_export_check(const tok *t, int level, tok_format format, tok_err *err)
{
    tok_err_clear(err);
    if (format != TOK_FORMAT_HF && format != TOK_FORMAT_TIKTOKEN)
        return tok_fail(err, TOK_EINVAL, "unknown export format %d", (int)format);
    int rc = check_common(
        t, level, format == TOK_FORMAT_HF ? "a tokenizer.json BPE model" : "tiktoken", err);
    if (rc)
        return rc;
    if (format == TOK_FORMAT_TIKTOKEN)
        return t->rule == RULE_RANKS ? TOK_OK : check_proper(t, level, err);
    int32_t *l, *r;
    size_t n;
    rc = hf_merges(t, level, &l, &r, &n, err);
    free(l);
    free(r);
    return rc;
}

/* ---- tokenizer.json ---- */

/* GPT-2's printable stand-ins for bytes (ByteLevel): bytes that are printable Latin-1 stand
 * for themselves, the others for U+0100 onwards in byte order. */
static void byte_chars(uint32_t map[256])
{
    uint32_t next = 256;
    for (int b = 0; b < 256; b++)
        map[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE ? (uint32_t)b
                                                                                 : next++;
}

static void put_bytelevel(struct out *o, const tok *t, int32_t id, const uint32_t map[256])
{
    size_t n;
    const uint8_t *p = tok_bytes_of(t, id, &n);
    for (size_t i = 0; i < n; i++) {
        if (map[p[i]] == '"' || map[p[i]] == '\\')
            put(o, "\\", 1);
        put_utf8(o, map[p[i]]);
    }
}

struct hf_ctx {
    const tok *t;
    int level;
    const char *path;
};

static int fill_hf(int fd, const char *tmp, void *ctx, tok_err *err)
{
    (void)tmp;
    const struct hf_ctx *c = ctx;
    const tok *t = c->t;
    int32_t *l, *r;
    size_t nm;
    int rc = hf_merges(t, c->level, &l, &r, &nm, err);
    if (rc)
        return rc;
    uint32_t map[256];
    byte_chars(map);
    struct out o = {0};
    puts_(&o, "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n"
              "  \"added_tokens\": [],\n  \"normalizer\": null,\n"
              "  \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [\n"
              "    {\"type\": \"Split\", \"pattern\": {\"Regex\": ");
    put_json_str(&o, t->pattern, strlen(t->pattern));
    puts_(&o, "}, \"behavior\": \"Isolated\", \"invert\": false},\n"
              "    {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": "
              "false, \"use_regex\": false}]},\n"
              "  \"post_processor\": null,\n"
              "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
              "\"trim_offsets\": false, \"use_regex\": false},\n"
              "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n"
              "    \"unk_token\": null,\n    \"continuing_subword_prefix\": null,\n"
              "    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n"
              "    \"byte_fallback\": false,\n    \"vocab\": {");
    int first = 1;
    for (int32_t id = 0; id < t->ntok; id++) {
        if (!in_level(t, id, c->level))
            continue;
        puts_(&o, first ? "\n      \"" : ",\n      \"");
        first = 0;
        put_bytelevel(&o, t, id, map);
        putf(&o, "\": %ld", id);
    }
    puts_(&o, "\n    },\n    \"merges\": [");
    for (size_t i = 0; i < nm; i++) {
        puts_(&o, i ? ",\n      \"" : "\n      \"");
        put_bytelevel(&o, t, l[i], map);
        put(&o, " ", 1);
        put_bytelevel(&o, t, r[i], map);
        put(&o, "\"", 1);
    }
    puts_(&o, "\n    ]\n  }\n}\n");
    free(l);
    free(r);
    rc = flush_to(fd, &o, c->path, err);
    free(o.p);
    return rc;
}

/* ---- tiktoken rank file ---- */

static void put_base64(struct out *o, const uint8_t *p, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {a[v >> 18], a[(v >> 12) & 63], i + 1 < n ? a[(v >> 6) & 63] : '=',
                     i + 2 < n ? a[v & 63] : '='};
        put(o, q, 4);
    }
}

static int fill_tiktoken(int fd, const char *tmp, void *ctx, tok_err *err)
{
    (void)tmp;
    const struct hf_ctx *c = ctx;
    const tok *t = c->t;
    struct out o = {0};
    for (int32_t id = 0; id < t->ntok; id++) {
        if (!in_level(t, id, c->level))
            continue;
        size_t n;
        const uint8_t *p = tok_bytes_of(t, id, &n);
        put_base64(&o, p, n);
        putf(&o, " %ld\n", id);
    }
    int rc = flush_to(fd, &o, c->path, err);
    free(o.p);
    return rc;
}

int tok_export(const tok *t, int level, tok_format format, const char *path, tok_err *err)
{
    int rc = tok_export_check(t, level, format, err);
    if (rc)
        return rc;
    struct hf_ctx c = {t, level, path};
    return tok_write_file(path, format == TOK_FORMAT_HF ? fill_hf : fill_tiktoken, &c, err);
}

const char *tok_format_name(tok_format format)
{
    return format == TOK_FORMAT_HF ? "hf" : format == TOK_FORMAT_TIKTOKEN ? "tiktoken" : NULL;
}

int tok_format_parse(const char *name, tok_format *out)
{
    for (int f = 0; f < TOK_FORMAT_COUNT; f++)
        if (!strcmp(name, tok_format_name((tok_format)f))) {
            *out = (tok_format)f;
            return TOK_OK;
        }
    return TOK_EINVAL;
}
