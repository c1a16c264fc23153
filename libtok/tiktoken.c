/* tiktoken.c: importing a tiktoken rank file ("base64-token rank" per line) as a one-level
 * pyramid that keeps tiktoken's ranks as ids and encodes by tiktoken's rule. */
#include "tok_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes base64 s[0..n) into out (room for 3 * n / 4 bytes); returns the length or -1. */
static long b64decode(const char *s, size_t n, uint8_t *out)
{
    while (n && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    long k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (uint8_t)(acc >> bits);
        }
    }
    return k;
}

struct entry {
    long rank;
    size_t off, len;
};

static int read_ranks(FILE *f, const char *path, struct entry **ents, size_t *nent,
                      uint8_t **bytes, size_t *nbytes, tok_err *err)
{
    char *line = NULL;
    size_t lcap = 0, cap = 0, bcap = 0;
    ssize_t got;
    long lineno = 0;
    int rc = TOK_OK;
    *ents = NULL;
    *bytes = NULL;
    *nent = *nbytes = 0;
    while ((got = getline(&line, &lcap, f)) > 0) {
        lineno++;
        size_t n = (size_t)got;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (!n)
            continue;
        char *sp = memchr(line, ' ', n);
        char *end;
        errno = 0;
        long rank = sp ? strtol(sp + 1, &end, 10) : -1;
        if (!sp || sp == line || errno || end != line + n || rank < 0 || rank > INT32_MAX / 2) {
            rc = tok_fail(err, TOK_EFORMAT, "%s:%ld: expected 'base64-token rank'", path,
                          lineno);
            break;
        }
        if (*nent == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            struct entry *ne = realloc(*ents, cap * sizeof *ne);
            if (!ne) {
                rc = tok_fail(err, TOK_ENOMEM, "out of memory");
                break;
            }
            *ents = ne;
        }
        size_t blen = (size_t)(sp - line);
        if (*nbytes + blen > bcap) {
            bcap = bcap ? bcap * 2 : 1 << 20;
            while (bcap < *nbytes + blen)
                bcap *= 2;
            uint8_t *nb = realloc(*bytes, bcap);
            if (!nb) {
                rc = tok_fail(err, TOK_ENOMEM, "out of memory");
                break;
            }
            *bytes = nb;
        }
        long k = b64decode(line, blen, *bytes + *nbytes);
        if (k <= 0) {
            rc = tok_fail(err, TOK_EFORMAT, "%s:%ld: bad base64 token", path, lineno);
            break;
        }
        (*ents)[(*nent)++] = (struct entry){rank, *nbytes, (size_t)k};
        *nbytes += (size_t)k;
    }
    free(line);
    if (!rc && ferror(f))
        rc = tok_fail(err, TOK_EIO, "%s: %s", path, strerror(errno));
    if (!rc && *nent == 0)
        rc = tok_fail(err, TOK_EFORMAT, "%s: no tokens", path);
    return rc;
}

int tok_import_tiktoken(tok **out, const char *path, const char *pretok, tok_err *err)
{
    tok_err_clear(err);
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return tok_fail(err, TOK_EIO, "%s: %s", path, strerror(errno));
    struct entry *ents;
    uint8_t *bytes;
    size_t n, nbytes;
    int rc = read_ranks(f, path, &ents, &n, &bytes, &nbytes, err);
    fclose(f);
    tok *t = NULL;
    if (!rc && tok_alloc(&t, (int32_t)n, nbytes))
        rc = tok_fail(err, TOK_ENOMEM, "out of memory");
    if (!rc) { /* ranks must be exactly 0..n-1: place each token at its rank */
        size_t *at = malloc(n * sizeof *at);
        if (!at)
            rc = tok_fail(err, TOK_ENOMEM, "out of memory");
        for (size_t i = 0; at && i < n; i++)
            at[i] = SIZE_MAX;
        for (size_t i = 0; !rc && i < n; i++) {
            long r = ents[i].rank;
            if (r >= (long)n)
                rc = tok_fail(err, TOK_EFORMAT,
                              "%s: rank %ld but only %zu tokens (ranks must be 0..%zu)", path,
                              r, n, n - 1);
            else if (at[r] != SIZE_MAX)
                rc = tok_fail(err, TOK_EFORMAT, "%s: rank %ld appears twice", path, r);
            else
                at[r] = i;
        }
        size_t o = 0;
        for (size_t r = 0; !rc && r < n; r++) {
            const struct entry *e = &ents[at[r]];
            memcpy(t->bytes + o, bytes + e->off, e->len);
            t->off[r] = o;
            o += e->len;
            t->off[r + 1] = o;
            t->left[r] = t->right[r] = -1;
            t->level[r] = e->len == 1 ? 0 : 1;
            t->stage[r] = e->len == 1 ? TOK_STAGE_BYTE : TOK_STAGE_SUBWORD;
        }
        free(at);
    }
    free(ents);
    free(bytes);
    if (!rc) {
        t->nlevels = 1;
        t->vocab[0] = 256;
        t->vocab[1] = (int32_t)n;
        t->limit[0] = 0;
        t->limit[1] = (int32_t)n;
        t->rule = RULE_RANKS;
        if (!pretok)
            pretok = n >= 150000 ? "o200k" : (n >= 50000 && n < 60000) ? "gpt2" : "cl100k";
        tok_pretok_free(&t->pre);
        if (!(t->pattern =
                  strdup(tok_preset_pattern(pretok) ? tok_preset_pattern(pretok) : pretok)))
            rc = tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    if (!rc) {
        tok_err e2 = {0};
        rc = tok_finish(t, &e2);
        if (rc)
            tok_fail(err, rc, "%s: %s", path, tok_errmsg(&e2));
    }
    if (rc)
        tok_close(&t);
    *out = t;
    return rc;
}
