/* cmd_vocab.c: `pyramask vocab build|encode|decode|stats|import-tiktoken|export`, the
 * command-line face of libtok: build, inspect, import and export vocabulary pyramids, encode
 * and decode text with them. */
#include "cli.h"
#include "progress.h"
#include "tok.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int tok_status(int rc)
{
    return rc == TOK_ENOMEM ? CLI_FAIL : CLI_USAGE;
}

static int fail(const char *what, int rc, const tok_err *e)
{
    cli_error(what, "%s", e && e->msg[0] ? e->msg : tok_strerror(rc));
    return tok_status(rc);
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* Parses a positive integer option value into *out; prints the error and returns -1. */
static int parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi,
                     long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_usage(cmd, "%s: '%s' is not a number in %ld..%ld", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* Reads FILE (or stdin for "-" / NULL) whole; returns 0 or prints the error. */
static int read_all(const char *cmd, const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = (!path || !strcmp(path, "-")) ? stdin : fopen(path, "rb");
    const char *name = f == stdin ? "stdin" : path;
    if (!f) {
        cli_error(cmd, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (!b)
            break;
        if (n == cap) {
            uint8_t *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = !b || ferror(f);
    if (bad)
        cli_error(cmd, "%s: %s", name, b ? strerror(errno) : "out of memory");
    if (f != stdin)
        fclose(f);
    if (bad) {
        free(b);
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

static int write_out(const char *cmd, const void *p, size_t n)
{
    if ((n && fwrite(p, 1, n, stdout) != n) || fflush(stdout)) {
        cli_error(cmd, "writing the output: %s", strerror(errno));
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* ---- build ---- */

static const char build_help[] =
    "usage: pyramask vocab build --corpus FILE... --levels N1,N2,... [--superword N]\n"
    "                            [--pretok PRESET|REGEX] [--threads N] -o OUT.pyr\n"
    "\n"
    "Trains a vocabulary pyramid: byte-level BPE whose levels are cut points of one merge\n"
    "order, so every coarse token is a run of finer ones.\n"
    "  --corpus FILE...   training text (repeat the option or list several files)\n"
    "  --levels N1,N2,..  vocabulary sizes of the levels (bytes included), increasing, > 256\n"
    "  --superword N      add a superword level of N tokens in all: merges across pre-tokens,\n"
    "                     never across a newline\n"
    "  --pretok P         pre-tokenizer: gpt2, cl100k (default), o200k, code, whitespace, or "
    "a\n"
    "                     PCRE2 regex\n"
    "  --threads N        counting threads (default: the number of CPUs); the result does not\n"
    "                     depend on it\n"
    "  -o OUT.pyr         the pyramid file (SQLite), written atomically\n";

static int parse_levels(const char *s, tok_train_settings *ts)
{
    ts->nlevels = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || (*end && *end != ',') || v <= 0 || v > 100000000) {
            cli_usage("vocab build",
                      "--levels: '%s' is not a list of sizes like 1024,4096,16384", s);
            return -1;
        }
        if (ts->nlevels == TOK_MAX_LEVELS) {
            cli_usage("vocab build", "--levels: at most %d levels", TOK_MAX_LEVELS);
            return -1;
        }
        ts->levels[ts->nlevels++] = (int32_t)v;
        p = *end ? end + 1 : end;
    }
    if (!ts->nlevels) {
        cli_usage("vocab build", "--levels: empty list");
        return -1;
    }
    return 0;
}

static int vocab_build(int argc, char **argv)
{
    static const struct option opts[] = {{"corpus", required_argument, 0, 'c'},
                                         {"levels", required_argument, 0, 'l'},
                                         {"superword", required_argument, 0, 's'},
                                         {"pretok", required_argument, 0, 'p'},
                                         {"threads", required_argument, 0, 't'},
                                         {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *cmd = "vocab build", *outp = NULL;
    tok_train_settings ts;
    tok_default_train_settings(&ts);
    ts.nthreads = default_threads();
    const char **corpus = calloc((size_t)argc + 1, sizeof *corpus);
    int ncorpus = 0, have_levels = 0, c;
    long v;
    if (!corpus)
        return CLI_FAIL;
    while ((c = getopt_long(argc, argv, "c:l:s:p:t:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            corpus[ncorpus++] = optarg;
            break;
        case 'l':
            if (parse_levels(optarg, &ts))
                goto usage;
            have_levels = 1;
            break;
        case 's':
            if (parse_int(cmd, "--superword", optarg, 257, 100000000, &v))
                goto usage;
            ts.superword = (int32_t)v;
            break;
        case 'p':
            ts.pretok = optarg;
            break;
        case 't':
            if (parse_int(cmd, "--threads", optarg, 1, 64, &v))
                goto usage;
            ts.nthreads = (int)v;
            break;
        case 'o':
            outp = optarg;
            break;
        case 'h':
            fputs(build_help, stdout);
            free(corpus);
            return CLI_OK;
        default:
            goto usage_quiet;
        }
    }
    while (optind < argc)
        corpus[ncorpus++] = argv[optind++]; /* --corpus A B C */
    if (!ncorpus) {
        cli_usage(cmd, "no --corpus given");
        goto usage;
    }
    if (!have_levels) {
        cli_usage(cmd, "no --levels given");
        goto usage;
    }
    if (!outp) {
        cli_usage(cmd, "no output file (-o OUT.pyr)");
        goto usage;
    }
    struct progress pr; /* on a terminal, or a plain line every ~30 s */
    progress_start(&pr, "vocab build", NULL, 0);
    ts.progress = progress_phase;
    ts.progress_ctx = &pr;
    tok *t = NULL;
    tok_err e = {0};
    int rc = tok_train_files(&t, &ts, corpus, ncorpus, &e);
    progress_end(&pr);
    free(corpus);
    if (rc)
        return fail(cmd, rc, &e);
    rc = tok_save(t, outp, &e);
    if (rc) {
        tok_close(&t);
        fail(cmd, rc, &e);
        return CLI_FAIL; /* the output could not be written: not a fault of the input */
    }
    char h[17];
    tok_hash(t, h);
    printf("%s: %d levels, %d tokens, pre-tokenizer %s, hash %s\n", outp, tok_nlevels(t),
           tok_ntokens(t), tok_pretok_name(t), h);
    tok_close(&t);
    return CLI_OK;
usage:
    free(corpus);
    return CLI_USAGE;
usage_quiet:
    free(corpus);
    return cli_usage(cmd, "bad option");
}

/* ---- encode / decode ---- */

static int open_pyr(const char *cmd, const char *path, tok **t)
{
    tok_err e = {0};
    int rc = tok_open(t, path, &e);
    return rc ? fail(cmd, rc, &e) : CLI_OK;
}

/* Parses --level K against the pyramid (-1 = not given); returns 0 or prints the error. */
static int check_level_opt(const char *cmd, const tok *t, long level)
{
    if (level > tok_nlevels(t)) {
        cli_error(cmd, "level %ld: the pyramid has levels 0..%d", level, tok_nlevels(t));
        return -1;
    }
    return 0;
}

static const char encode_help[] =
    "usage: pyramask vocab encode -p PYR [--level K] [--offsets] [--threads N] [FILE|-]\n"
    "\n"
    "Encodes FILE (or stdin) at level K (default: the top level) and prints the token ids\n"
    "space-separated on one line.\n"
    "  -p, --pyramid PYR  the pyramid file\n"
    "  --level K          0 (bytes) .. L\n"
    "  --offsets          print each token's start byte instead of its id\n"
    "  --threads N        encoding threads (default 1); the output does not depend on it\n";

static const char decode_help[] =
    "usage: pyramask vocab decode -p PYR [--level K] [FILE|-]\n"
    "\n"
    "Reads token ids (separated by whitespace) from FILE or stdin and writes their bytes.\n"
    "  -p, --pyramid PYR  the pyramid file\n"
    "  --level K          require every id to belong to level K (default: any level)\n";

struct io_opts {
    const char *pyr, *input;
    long level, threads;
    int offsets;
};

static int parse_io(const char *cmd, const char *help, int argc, char **argv, struct io_opts *o)
{
    static const struct option opts[] = {
        {"pyramid", required_argument, 0, 'p'}, {"level", required_argument, 0, 'l'},
        {"offsets", no_argument, 0, 'O'},       {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    *o = (struct io_opts){NULL, NULL, -1, 1, 0};
    int c;
    while ((c = getopt_long(argc, argv, "p:l:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->pyr = optarg;
            break;
        case 'l':
            if (parse_int(cmd, "--level", optarg, 0, TOK_MAX_LEVELS, &o->level))
                return CLI_USAGE;
            break;
        case 'O':
            o->offsets = 1;
            break;
        case 't':
            if (parse_int(cmd, "--threads", optarg, 1, 64, &o->threads))
                return CLI_USAGE;
            break;
        case 'h':
            fputs(help, stdout);
            return -1;
        default:
            return cli_usage(cmd, "bad option");
        }
    }
    if (optind < argc)
        o->input = argv[optind++];
    if (optind < argc)
        return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (!o->pyr)
        return cli_usage(cmd, "no pyramid given (-p PYR)");
    return CLI_OK;
}

/* What encode and decode share: their options, the pyramid and the whole input. */
struct io {
    struct io_opts o;
    tok *t;
    uint8_t *buf; /* the input (a body may free it early and set it NULL) */
    size_t n;
};

/* Parses the options, opens the pyramid, reads the input, runs body and cleans up after
 * it. Returns body's exit status, or that of the step that failed (CLI_OK after --help). */
static int run_io(const char *cmd, const char *help, int argc, char **argv,
                  int (*body)(const char *cmd, struct io *io))
{
    struct io io = {0};
    int rc = parse_io(cmd, help, argc, argv, &io.o);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if ((rc = open_pyr(cmd, io.o.pyr, &io.t)))
        return rc;
    if (check_level_opt(cmd, io.t, io.o.level) || read_all(cmd, io.o.input, &io.buf, &io.n))
        rc = CLI_USAGE;
    else
        rc = body(cmd, &io);
    free(io.buf);
    tok_close(&io.t);
    return rc;
}

static int encode_body(const char *cmd, struct io *io)
{
    const struct io_opts *o = &io->o;
    int level = o->level < 0 ? tok_nlevels(io->t) : (int)o->level;
    tok_ids ids = {0};
    int rc = tok_encode_parallel(io->t, level, io->buf, io->n, (int)o->threads, &ids);
    free(io->buf); /* the ids and their text need the memory */
    io->buf = NULL;
    char *text = rc ? NULL : malloc(ids.n * 21 + 2);
    if (!rc && !text)
        rc = TOK_ENOMEM;
    if (rc) {
        tok_ids_free(&ids);
        return fail(cmd, rc, NULL);
    }
    size_t k = 0;
    for (size_t i = 0; i < ids.n; i++) {
        if (o->offsets)
            k += (size_t)sprintf(text + k, i ? " %zu" : "%zu", ids.start[i]);
        else
            k += (size_t)sprintf(text + k, i ? " %d" : "%d", ids.ids[i]);
    }
    text[k++] = '\n';
    rc = write_out(cmd, text, k);
    free(text);
    tok_ids_free(&ids);
    return rc;
}

static int decode_body(const char *cmd, struct io *io)
{
    const struct io_opts *o = &io->o;
    const tok *t = io->t;
    const uint8_t *buf = io->buf;
    size_t n = io->n;
    const char *name = o->input && strcmp(o->input, "-") ? o->input : "stdin";
    int32_t *ids = malloc((n / 2 + 1) * sizeof *ids);
    size_t nid = 0, line = 1, i = 0;
    int rc = ids ? CLI_OK : CLI_FAIL;
    int32_t limit = tok_vocab_size(t, o->level < 0 ? tok_nlevels(t) : (int)o->level);
    while (!rc && i < n) {
        if (buf[i] == '\n')
            line++;
        if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r') {
            i++;
            continue;
        }
        size_t j = i;
        long long v = 0;
        while (j < n && buf[j] >= '0' && buf[j] <= '9' && v < 1LL << 40)
            v = v * 10 + (buf[j++] - '0');
        int ws_after =
            j == n || buf[j] == ' ' || buf[j] == '\t' || buf[j] == '\n' || buf[j] == '\r';
        if (j == i || !ws_after) {
            cli_error(cmd, "%s:%zu: '%.*s' is not a token id", name, line,
                      (int)(j < n && !ws_after ? j - i + 1 : j - i), (const char *)buf + i);
            rc = CLI_USAGE;
            break;
        }
        if (v >= tok_ntokens(t) ||
            (o->level >= 0 && tok_token_level(t, (int32_t)v) > o->level)) {
            if (o->level >= 0)
                cli_error(cmd,
                          "%s:%zu: id %lld is not in level %ld (ids of level %ld: %d tokens)",
                          name, line, v, o->level, o->level, limit);
            else
                cli_error(cmd, "%s:%zu: id %lld is out of range (the pyramid has ids 0..%d)",
                          name, line, v, tok_ntokens(t) - 1);
            rc = CLI_USAGE;
            break;
        }
        ids[nid++] = (int32_t)v;
        i = j;
    }
    free(io->buf); /* read: its memory goes to the decoded bytes */
    io->buf = NULL;
    uint8_t *out = NULL;
    size_t outlen = 0;
    tok_err e = {0};
    if (!rc) {
        int trc = tok_decode(t, (int)o->level, ids, nid, &out, &outlen, &e);
        if (trc)
            rc = fail(cmd, trc, &e);
    }
    if (!rc)
        rc = write_out(cmd, out, outlen);
    free(out);
    free(ids);
    return rc;
}

static int vocab_encode(int argc, char **argv)
{
    return run_io("vocab encode", encode_help, argc, argv, encode_body);
}

static int vocab_decode(int argc, char **argv)
{
    return run_io("vocab decode", decode_help, argc, argv, decode_body);
}

/* ---- stats ---- */

static const char stats_help[] =
    "usage: pyramask vocab stats -p PYR --corpus FILE... [--threads N]\n"
    "\n"
    "Encodes the corpus at every level and prints per level: vocabulary size, tokens, bytes\n"
    "per token, and the share of the level's vocabulary that the corpus uses.\n";

static int vocab_stats(int argc, char **argv)
{
    static const struct option opts[] = {{"pyramid", required_argument, 0, 'p'},
                                         {"corpus", required_argument, 0, 'c'},
                                         {"threads", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *cmd = "vocab stats", *pyr = NULL;
    const char **corpus = calloc((size_t)argc + 1, sizeof *corpus);
    int ncorpus = 0, c;
    long threads = default_threads();
    if (!corpus)
        return CLI_FAIL;
    while ((c = getopt_long(argc, argv, "p:c:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            pyr = optarg;
            break;
        case 'c':
            corpus[ncorpus++] = optarg;
            break;
        case 't':
            if (parse_int(cmd, "--threads", optarg, 1, 64, &threads)) {
                free(corpus);
                return CLI_USAGE;
            }
            break;
        case 'h':
            fputs(stats_help, stdout);
            free(corpus);
            return CLI_OK;
        default:
            free(corpus);
            return cli_usage(cmd, "bad option");
        }
    }
    while (optind < argc)
        corpus[ncorpus++] = argv[optind++];
    if (!pyr || !ncorpus) {
        free(corpus);
        return cli_usage(cmd, pyr ? "no --corpus given" : "no pyramid given (-p PYR)");
    }
    tok *t;
    int rc = open_pyr(cmd, pyr, &t);
    int L = rc ? 0 : tok_nlevels(t);
    size_t ntok[TOK_MAX_LEVELS + 1] = {0}, nbytes = 0;
    uint32_t *used = rc ? NULL : calloc((size_t)tok_ntokens(t), sizeof *used);
    size_t nused[TOK_MAX_LEVELS + 1] = {0};
    if (!rc && !used)
        rc = CLI_FAIL;
    for (int i = 0; i < ncorpus && !rc; i++) {
        uint8_t *buf;
        size_t n;
        if (read_all(cmd, corpus[i], &buf, &n)) {
            rc = CLI_USAGE;
            break;
        }
        if (!n) {
            cli_error(cmd, "%s: empty file", corpus[i]);
            free(buf);
            rc = CLI_USAGE;
            break;
        }
        nbytes += n;
        tok_ids ids = {0};
        for (int k = 0; k <= L && !rc; k++) {
            int trc = tok_encode_parallel(t, k, buf, n, (int)threads, &ids);
            if (trc) {
                rc = fail(cmd, trc, NULL);
                break;
            }
            ntok[k] += ids.n;
            for (size_t j = 0; j < ids.n; j++)
                used[ids.ids[j]] |= 1u << k;
        }
        tok_ids_free(&ids);
        free(buf);
    }
    if (!rc) {
        for (int32_t id = 0; id < tok_ntokens(t); id++)
            for (int k = 0; k <= L; k++)
                if (used[id] & (1u << k))
                    nused[k]++;
        char h[17];
        tok_hash(t, h);
        printf("pyramid %s: %d levels, pre-tokenizer %s, hash %s; corpus %zu bytes\n", pyr, L,
               tok_pretok_name(t), h, nbytes);
        printf("%5s  %-9s  %8s  %10s  %11s  %6s\n", "level", "stage", "vocab", "tokens",
               "bytes/token", "used");
        for (int k = 0; k <= L; k++) {
            const char *stage = k == 0                        ? "byte"
                                : k == tok_superword_level(t) ? "superword"
                                                              : "subword";
            printf("%5d  %-9s  %8d  %10zu  %11.3f", k, stage, tok_vocab_size(t, k), ntok[k],
                   ntok[k] ? (double)nbytes / (double)ntok[k] : 0.0);
            printf("  %5.1f%%\n", 100.0 * (double)nused[k] / tok_vocab_size(t, k));
        }
    }
    free(used);
    free(corpus);
    tok_close(&t);
    return rc;
}

/* ---- import-tiktoken ---- */

static const char import_help[] =
    "usage: pyramask vocab import-tiktoken RANKS -o OUT.pyr [--pretok "
    "cl100k|o200k|gpt2|REGEX]\n"
    "\n"
    "Imports a tiktoken rank file (one 'base64-token rank' per line) as a one-level pyramid\n"
    "that keeps tiktoken's ranks as ids and encodes exactly as tiktoken does. Without\n"
    "--pretok the pre-tokenizer follows the size: o200k for ~200k tokens, gpt2 for ~50k,\n"
    "cl100k otherwise.\n";

static int vocab_import(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"pretok", required_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *cmd = "vocab import-tiktoken", *outp = NULL, *pretok = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "o:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            outp = optarg;
            break;
        case 'p':
            pretok = optarg;
            break;
        case 'h':
            fputs(import_help, stdout);
            return CLI_OK;
        default:
            return cli_usage(cmd, "bad option");
        }
    }
    if (optind != argc - 1)
        return cli_usage(cmd, "give exactly one rank file");
    if (!outp)
        return cli_usage(cmd, "no output file (-o OUT.pyr)");
    tok *t;
    tok_err e = {0};
    int rc = tok_import_tiktoken(&t, argv[optind], pretok, &e);
    if (rc)
        return fail(cmd, rc, &e);
    if ((rc = tok_save(t, outp, &e))) {
        tok_close(&t);
        fail(cmd, rc, &e);
        return CLI_FAIL;
    }
    char h[17];
    tok_hash(t, h);
    printf("%s: %d tokens, pre-tokenizer %s, hash %s\n", outp, tok_ntokens(t),
           tok_pretok_name(t), h);
    tok_close(&t);
    return CLI_OK;
}

/* ---- export ---- */

static const char export_help[] =
    "usage: pyramask vocab export PYR --level N --format hf|tiktoken -o FILE\n"
    "\n"
    "Writes level N of the pyramid as a file another tokenizer loads, with the same ids:\n"
    "  hf        a tokenizer.json for HuggingFace tokenizers (Tokenizer.from_file)\n"
    "  tiktoken  a tiktoken rank file; give tiktoken the pattern printed on the second line\n"
    "            as pat_str, and no special tokens\n"
    "Both encode every valid UTF-8 text to exactly the ids of `pyramask vocab encode --level\n"
    "N`. A level that a format cannot express is refused with the reason (a superword level;\n"
    "a custom pre-tokenizer regex; for tiktoken, a token that its own bytes do not encode to;\n"
    "for hf from an imported rank file, a token tiktoken does not make by a merge).\n"
    "  --level N          0 (bytes) .. L (default: the top level)\n"
    "  --format F         hf or tiktoken\n"
    "  -o FILE            the file, written atomically\n";

static int vocab_export(int argc, char **argv)
{
    static const struct option opts[] = {{"level", required_argument, 0, 'l'},
                                         {"format", required_argument, 0, 'f'},
                                         {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *cmd = "vocab export", *outp = NULL, *fmt = NULL;
    long level = -1;
    int c;
    while ((c = getopt_long(argc, argv, "l:f:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (parse_int(cmd, "--level", optarg, 0, TOK_MAX_LEVELS, &level))
                return CLI_USAGE;
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'o':
            outp = optarg;
            break;
        case 'h':
            fputs(export_help, stdout);
            return CLI_OK;
        default:
            return cli_usage(cmd, "bad option");
        }
    }
    if (optind != argc - 1)
        return cli_usage(cmd, "give exactly one pyramid file");
    tok_format format;
    if (!fmt)
        return cli_usage(cmd, "no --format given (hf or tiktoken)");
    if (tok_format_parse(fmt, &format))
        return cli_usage(cmd, "--format: unknown format '%s' (hf, tiktoken)", fmt);
    if (!outp)
        return cli_usage(cmd, "no output file (-o FILE)");
    tok *t;
    int rc = open_pyr(cmd, argv[optind], &t);
    if (rc)
        return rc;
    if (check_level_opt(cmd, t, level)) {
        tok_close(&t);
        return CLI_USAGE;
    }
    int k = level < 0 ? tok_nlevels(t) : (int)level;
    tok_err e = {0};
    if ((rc = tok_export_check(t, k, format, &e))) {
        char what[64];
        snprintf(what, sizeof what, "%s: level %d as %s", cmd, k, fmt);
        rc = fail(what, rc, &e);
    } else if ((rc = tok_export(t, k, format, outp, &e))) {
        fail(cmd, rc, &e);
        rc = CLI_FAIL; /* the output could not be written: not a fault of the input */
    } else {
        printf("%s: level %d, %d tokens, pre-tokenizer %s, as %s\n", outp, k,
               tok_vocab_size(t, k), tok_pretok_name(t), fmt);
        if (format == TOK_FORMAT_TIKTOKEN)
            printf("pat_str: %s\n", tok_pretok(t));
    }
    tok_close(&t);
    return rc;
}

/* ---- dispatch ---- */

static const char vocab_help[] =
    "usage: pyramask vocab <build|encode|decode|stats|import-tiktoken|export> [options]\n"
    "\n"
    "  build            train a vocabulary pyramid on a corpus\n"
    "  encode           text -> token ids at one level\n"
    "  decode           token ids -> text\n"
    "  stats            bytes per token and vocabulary use per level on a corpus\n"
    "  import-tiktoken  a tiktoken rank file as a pyramid\n"
    "  export           one level as a tokenizer.json or a tiktoken rank file\n"
    "\n'pyramask vocab <sub> --help' describes each.\n";

int cmd_vocab(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {
        {"build", vocab_build}, {"encode", vocab_encode},          {"decode", vocab_decode},
        {"stats", vocab_stats}, {"import-tiktoken", vocab_import}, {"export", vocab_export}};
    if (argc < 2) {
        fputs(vocab_help, stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(vocab_help, stdout);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(argv[1], subs[i].name)) {
            optind = 1;
            return subs[i].run(argc - 1, argv + 1);
        }
    return cli_usage("vocab", "unknown subcommand '%s'", argv[1]);
}
