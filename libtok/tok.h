/* tok.h: libtok, vocabulary pyramids: nested byte-level BPE vocabularies (train, load, save,
 * import tiktoken rank files, export a level for tokenizers and tiktoken), byte-exact
 * encode/decode at any level and the joint alignment.
 *
 * PYRAMID. Level 0 is the 256 single bytes. Levels 1..L are cut points in one merge order,
 * each given by its vocabulary size (bytes included), so V0 < V1 < ... < VL as sets. Merges
 * of the subword stage stay inside one pre-token (a PCRE2 match); an optional superword stage,
 * the last level, continues with merges across pre-token boundaries inside a line: no token of
 * that stage contains a newline byte and no such merge crosses a pre-token that does.
 *
 * IDS. A token's id is the same at every level. In a trained pyramid, id = rank: ids 0..255
 * are the single bytes (id b is byte b) and id 256+i is the token made by the i-th merge, so
 * level k holds exactly the ids below tok_vocab_size(t, k). An imported tiktoken pyramid keeps
 * tiktoken's ranks as ids (its single bytes are not 0..255); its level 1 holds ids
 * 0..tok_vocab_size(t,1)-1 and its level 0 the 256 single-byte tokens wherever they are.
 *
 * TRAINING. Pre-tokens are counted once (several threads), then merges are learned from the
 * unique pre-tokens with incremental pair counts and a priority queue. Tie-break: the pair
 * with the highest count wins; among equal counts the smaller left id, then the smaller right
 * id. A pair whose concatenation is already a token is never merged (every byte string is at
 * most one token). The result does not depend on the thread count.
 *
 * ENCODING. The text is split into pre-tokens by the pyramid's regex (bytes the regex does not
 * match, e.g. invalid UTF-8, form pre-tokens of their own). Each pre-token starts as bytes and
 * repeatedly merges the adjacent pair whose merge has the lowest rank (leftmost on ties), using
 * the merges of level k only; the superword levels then do the same over each line's run of
 * pre-tokens. So level k's segmentation always refines level k+1's. Imported tiktoken
 * pyramids encode exactly as tiktoken does (a pre-token that is a whole token is that token;
 * any two adjacent parts whose concatenation is a token can merge, lowest rank first).
 * Decoding concatenates the tokens' bytes: decode(encode(x)) == x for every byte string x.
 *
 * COSTS (2-core AMD EPYC, 35 MB of prose, a machine shared with other work). Training to
 * 30000 tokens with 2 threads: ~1.7 s wall, 62 MB peak (HuggingFace tokenizers: 20 s, 197 MB;
 * spm_train: 128 s, 394 MB). Subword levels to 16384 plus a superword level to 32768: ~9 s,
 * 520 MB (the line table of the superword stage). Encoding with an imported cl100k: 35 to 55
 * MB/s on one thread (npm tiktoken: 2 to 3 MB/s), the same ids; 74 to 84 MB/s on a 2-core
 * Xeon, and 1.85 to 1.95x that with 2 threads. An encoder keeps up to 64 MB of cache; loading
 * cl100k takes ~0.25 s.
 *
 * THREADS AND OWNERSHIP. A tok is immutable once made: every function taking a `const tok *`
 * may run from several threads at once on one pyramid. A tok_encoder (scratch space and a
 * pre-token cache) belongs to one thread at a time. Functions return 0 or a negative TOK_E*
 * code; tok_strerror() names the code. A call that takes a tok_err (it may be NULL) clears
 * it first and, when it fails, records there the code and the details (file, line, offending
 * value): tok_errmsg() then always has something to say. The encoding calls take none: their
 * code says it all (TOK_ERANGE for a level outside 0..L, TOK_ENOMEM). Output structs
 * (tok_ids, tok_align) are owned by the caller and released with their _free function;
 * anything else returned by pointer is borrowed from the tok and lives until tok_close().
 */
#ifndef PYRAMASK_TOK_H
#define PYRAMASK_TOK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    TOK_OK = 0,
    TOK_ENOMEM = -1,  /* out of memory */
    TOK_EINVAL = -2,  /* bad argument or settings (levels not increasing, unknown preset...) */
    TOK_EIO = -3,     /* a file could not be read or written */
    TOK_EREGEX = -4,  /* the pre-tokenizer pattern does not compile */
    TOK_ECORPUS = -5, /* the corpus is empty or too small for the levels asked */
    TOK_EFORMAT = -6, /* a pyramid or rank file is corrupt or of another kind */
    TOK_ERANGE = -7,  /* a token id or a level out of range */
};

enum { TOK_MAX_LEVELS = 16 }; /* levels 1..L, L <= TOK_MAX_LEVELS */

/* Stage of a token: how it was made. */
enum { TOK_STAGE_BYTE = 0, TOK_STAGE_SUBWORD = 1, TOK_STAGE_SUPERWORD = 2 };

typedef struct tok tok;
typedef struct tok_encoder tok_encoder;

/* The outcome of the last call that took it: cleared when the call starts; on failure the
 * call's code and its details ("corpus.txt: empty file"). Zero-initialise, or let the first
 * call clear it. */
typedef struct tok_err {
    char msg[512]; /* the details, "" when there are none */
    int code;      /* the TOK_E* code the call returned, TOK_OK after a success */
} tok_err;

/* Returns a static description of a TOK_E* code. */
const char *tok_strerror(int rc);

/* The message of err: its details, or when it has none the name of its code, as
 * tok_strerror(err->code) ("ok" after a success). Never NULL, never "" (a NULL err gives
 * "no error record"). Borrowed from err. */
const char *tok_errmsg(const tok_err *err);

/* ---- pre-tokenizer presets ---- */

/* The regex of a preset ("gpt2", "cl100k", "o200k", "code", "whitespace"), or NULL if `name`
 * is not a preset. Patterns are compiled with PCRE2_UTF|PCRE2_UCP|PCRE2_DOLLAR_ENDONLY|
 * PCRE2_MATCH_INVALID_UTF and JIT; \s in the presets is Unicode White_Space (not PCRE2's \s,
 * which also takes U+180E) so that cl100k, o200k and gpt2 split exactly as tiktoken does. */
const char *tok_preset_pattern(const char *name);

/* Checks that `preset_or_regex` compiles; on error err gets PCRE2's message and offset. */
int tok_check_pretok(const char *preset_or_regex, tok_err *err);

/* ---- training ---- */

typedef struct tok_train_settings {
    const char *pretok;             /* preset name or PCRE2 regex; default "cl100k" */
    int nlevels;                    /* number of subword levels, 1..TOK_MAX_LEVELS */
    int32_t levels[TOK_MAX_LEVELS]; /* their vocabulary sizes, increasing, each > 256 */
    int32_t superword;              /* 0, or the total size of one more superword level */
    int nthreads;                   /* threads for counting; the result does not depend on it */
    /* Optional progress report: phase name, work done and total (same unit). */
    void (*progress)(void *ctx, const char *phase, double done, double total);
    void *progress_ctx;
} tok_train_settings;

/* Fills *s with the defaults: cl100k, one level of 4096 tokens, no superword stage, 1 thread,
 * no progress report. */
void tok_default_train_settings(tok_train_settings *s);

/* Trains a pyramid on the concatenation of the files (each file is its own text). Errors:
 * TOK_EIO (missing or unreadable file), TOK_ECORPUS (empty corpus, or fewer possible merges
 * than the largest level needs), TOK_EREGEX, TOK_EINVAL (levels). *out is NULL on error. */
int tok_train_files(tok **out, const tok_train_settings *s, const char *const *paths,
                    int npaths, tok_err *err);

/* The same on buffers in memory (texts[i] of lens[i] bytes). */
int tok_train_buffers(tok **out, const tok_train_settings *s, const void *const *texts,
                      const size_t *lens, int ntexts, tok_err *err);

/* ---- files ---- */

/* Loads a .pyr file (SQLite: tables meta, levels, tokens), checking that it is a pyramid of
 * a known version, complete and consistent (every merge's parts exist and concatenate to its
 * bytes, levels nest, the stored checksum matches). TOK_EFORMAT with the reason in err. */
int tok_open(tok **out, const char *path, tok_err *err);

/* Writes the pyramid to `path` atomically: a temporary file in the same directory, fsync,
 * rename, fsync of the directory. On error no file is left at `path` (an older file there
 * is untouched). */
int tok_save(const tok *t, const char *path, tok_err *err);

/* Imports a tiktoken rank file (one "base64-token rank" per line, ranks 0..N-1) as a
 * one-level pyramid with pre-tokenizer `pretok` (a preset or regex; NULL picks o200k for
 * files of ~200k tokens, gpt2 for ~50k, cl100k otherwise). Its encoding gives tiktoken's ids. */
int tok_import_tiktoken(tok **out, const char *path, const char *pretok, tok_err *err);

/* Frees a pyramid; NULL-safe; sets *t = NULL. */
void tok_close(tok **t);

/* ---- the pyramid ---- */

int tok_nlevels(const tok *t);                   /* L: levels 1..L (0 is the bytes) */
int32_t tok_vocab_size(const tok *t, int level); /* tokens at `level`, or -1 if no such level */
int32_t tok_ntokens(const tok *t);               /* all tokens = ids 0..tok_ntokens-1 */
int tok_superword_level(const tok *t);           /* the superword level, or 0 if none */
const char *tok_pretok(const tok *t);            /* the pre-tokenizer regex */
const char *tok_pretok_name(const tok *t);       /* its preset name, or "custom" */
/* Token `id`'s bytes (borrowed; *len set); NULL if id is out of range. */
const uint8_t *tok_token_bytes(const tok *t, int32_t id, size_t *len);
int tok_token_level(const tok *t, int32_t id); /* first level containing id, -1 if none */
int tok_token_stage(const tok *t, int32_t id); /* TOK_STAGE_*, -1 if no such id */
/* Occurrences in the training corpus when the token was made (the winning pair's count;
 * for bytes, the byte count); 0 if unknown (imported pyramids). -1 if no such id. */
int64_t tok_token_count(const tok *t, int32_t id);
/* A token's merge parts (trained pyramids); -1 for bytes and imported tokens. */
int tok_token_parts(const tok *t, int32_t id, int32_t *left, int32_t *right);
/* Stable content hash (16 lowercase hex digits + NUL) of what defines the encoding: the
 * pre-tokenizer, the levels, every token's bytes and merge parts. Equal pyramids, equal hash. */
void tok_hash(const tok *t, char hex[17]);

/* ---- encoding ---- */

/* Token ids and each token's start byte. Zero-initialise; reused across calls (grown as
 * needed); release with tok_ids_free. */
typedef struct tok_ids {
    int32_t *ids;  /* (n) token ids */
    size_t *start; /* (n) start byte offset of each token in the input */
    size_t n, cap;
} tok_ids;
void tok_ids_free(tok_ids *ids);

/* An encoder: scratch space and pre-token cache for one thread. The tok must outlive it. */
int tok_encoder_open(tok_encoder **out, const tok *t);
void tok_encoder_close(tok_encoder **e); /* NULL-safe; sets *e = NULL */

/* Encodes buf[0..n) at `level` (0..L) into *out (replacing its contents). TOK_ERANGE for a
 * bad level. */
int tok_encode(tok_encoder *e, int level, const void *buf, size_t n, tok_ids *out);

/* The same, splitting the buffer over `nthreads` threads; the result is identical to
 * tok_encode's for any nthreads >= 1. */
int tok_encode_parallel(const tok *t, int level, const void *buf, size_t n, int nthreads,
                        tok_ids *out);

/* Decodes ids into a new buffer (*out, *outlen; free it with free()). With level >= 0 every
 * id must belong to that level; with level -1 any id of the pyramid. TOK_ERANGE (err names
 * the index and the id) for an id out of range, and *out is NULL. */
int tok_decode(const tok *t, int level, const int32_t *ids, size_t n, uint8_t **out,
               size_t *outlen, tok_err *err);

/* ---- joint encoding and alignment ---- */

/* The encodings of one text at levels lo..hi (lo < hi allowed to be equal) with how they
 * nest. For every level k in lo..hi: n[k] tokens ids[k][i] starting at byte start[k][i]
 * (start[k][n[k]] = len). For every k in lo+1..hi: unit[k][i] (i < n[lo]) is the index of
 * the level-k token that contains level-lo token i, and first[k][u] (u <= n[k]) the index of
 * the first level-lo token of level-k token u, so level-k token u is exactly the run of
 * level-lo tokens first[k][u] .. first[k][u+1]-1 and spans bytes start[k][u]..start[k][u+1].
 * Arrays of levels outside lo..hi are NULL. Release with tok_align_free. */
typedef struct tok_align {
    int lo, hi;
    size_t len;
    size_t n[TOK_MAX_LEVELS + 1];
    int32_t *ids[TOK_MAX_LEVELS + 1];  /* (n[k]) */
    size_t *start[TOK_MAX_LEVELS + 1]; /* (n[k] + 1) */
    size_t *unit[TOK_MAX_LEVELS + 1];  /* (n[lo]) for k > lo */
    size_t *first[TOK_MAX_LEVELS + 1]; /* (n[k] + 1) for k > lo */
} tok_align;

int tok_encode_aligned(tok_encoder *e, int lo, int hi, const void *buf, size_t n,
                       tok_align *out);
/* The same on nthreads threads (each with its own encoder): the result does not depend on
 * nthreads. */
int tok_encode_aligned_parallel(const tok *t, int lo, int hi, const void *buf, size_t n,
                                int nthreads, tok_align *out);
void tok_align_free(tok_align *a); /* frees the arrays and zeroes *a; NULL-safe */

/* ---- exports: one level as files other tokenizers load ---- */

/* TOK_FORMAT_HF: a HuggingFace tokenizer.json (a Split pre-tokenizer with the pyramid's
 * regex, ByteLevel, a BPE model with the level's tokens as its vocabulary, ids kept, and its
 * merges in rank order), loaded by the tokenizers library. TOK_FORMAT_TIKTOKEN: a tiktoken
 * rank file ("base64-token rank" per line, rank = libtok id), loaded by tiktoken with the
 * pattern tok_pretok(t) as pat_str and no special tokens.
 * An export encodes every valid UTF-8 text (what those libraries take) to exactly the ids of
 * tok_encode at that level, or it is refused with TOK_EINVAL and the reason in err:
 *   - a superword level (either format): its merges join pre-tokens after each pre-token's
 *     own merges, where both libraries merge inside one pre-token only;
 *   - a custom pre-tokenizer regex (either format): only the presets are checked (by the
 *     tests, on every code point) to split the same in PCRE2, Oniguruma and fancy-regex;
 *   - tiktoken, trained pyramid: a token that its own bytes do not encode to at that level
 *     (tiktoken gives a pre-token that is a token that token, and merges any two parts whose
 *     concatenation is a token); when every token encodes to itself the two rules agree on
 *     every text (export_formats.c has the argument), which is what trained subword levels
 *     show in practice;
 *   - hf, imported tiktoken pyramid: a token that tiktoken's rule does not make from two
 *     tokens of lower rank (the merge list has one merge per token: the one tiktoken makes),
 *     or a token those merges do not encode its bytes to.
 * Level 0 (the bytes) is always exportable. Strings differ from the ids only in what the
 * libraries do to invalid UTF-8 (which they cannot be given). */
typedef enum tok_format { TOK_FORMAT_HF, TOK_FORMAT_TIKTOKEN, TOK_FORMAT_COUNT } tok_format;

/* "hf", "tiktoken" (NULL out of range), and back (TOK_EINVAL for another name). */
const char *tok_format_name(tok_format format);
int tok_format_parse(const char *name, tok_format *out);

/* Checks that `level` can be written in `format` (see above): 0, TOK_ERANGE (no such level),
 * TOK_EINVAL with the reason in err, TOK_ENOMEM. */
int tok_export_check(const tok *t, int level, tok_format format, tok_err *err);

/* Writes level `level` in `format` to path, atomically (as tok_save); the same refusals as
 * tok_export_check, and TOK_EIO when the file cannot be written. */
int tok_export(const tok *t, int level, tok_format format, const char *path, tok_err *err);

/* ---- coarsening maps ----
 *
 * A coarsening map sends every id of an alphabet (the V tokens of a level, or the
 * descriptions of a previous map) to a coarser description in [0, D), D <= V: a plain array
 * map[0..V) that the caller allocates and owns, as libmask's chain takes it (one map per
 * stage of a coarse-to-fine chain, each applied to the previous stage's descriptions).
 *
 * prefix:N describes a token by its first piece at the finer level N. cluster:C describes an
 * id by one of C clusters of ids that occur in similar contexts (k-means on co-occurrence
 * statistics of a corpus, no trained model needed; the published hierarchical-diffusion
 * choice). A third map, the token classes, belongs to the caller (libmask's class rules). */

/* prefix:N. For every id < tok_vocab_size(t, level) (1 <= level <= L), map[id] is the first
 * piece of the token at level piece_level (0 <= piece_level < level): the token is unmerged
 * along its merge tree (tok_token_parts) until every part is a level-piece_level token, and
 * the leftmost part is its piece. This is exactly the first token of the level-piece_level
 * encoding of the token's bytes wherever the token occurs in encoded text (level k's
 * segmentation refines into level N's); a token already at level piece_level is its own
 * piece. Descriptions are level-piece_level token ids, D = tok_vocab_size(t, piece_level);
 * tok_prefix_piece_bytes gives a description's bytes. piece_level 0 gives the token's first
 * byte: the description is the byte's value (0..255, which is its token id in a trained
 * pyramid). An imported tiktoken pyramid has no merge parts: only piece_level 0 is defined
 * there (TOK_EINVAL, saying so, for any other). Errors: TOK_ERANGE for a level outside 1..L,
 * TOK_EINVAL for a piece level outside 0..level-1 or a NULL map. Cost: O(V x merge depth),
 * well under a millisecond for V = 4096; no allocation. */
int tok_prefix_map(const tok *t, int level, int piece_level, int32_t *map, tok_err *err);

/* The bytes of description d of a prefix:piece_level map (borrowed; *len set), or NULL if d
 * is not one (d outside 0..tok_vocab_size(t, piece_level)-1, or piece_level outside 0..L).
 * For piece_level 0 the single byte d, in any pyramid. */
const uint8_t *tok_prefix_piece_bytes(const tok *t, int piece_level, int32_t d, size_t *len);

/* Settings of tok_cluster_map beyond the cluster count and the seed. */
typedef struct tok_cluster_settings {
    int32_t features; /* F: context ids, the F most frequent ids of the corpus (512) */
    int max_iter;     /* bound on the Lloyd iterations, >= 1 (100) */
    int nthreads;     /* threads for the Lloyd steps (1), used from 4e6 multiply-adds (non-zeros
                       * x C) a step; the result does not depend on it */
    /* Optional report after each Lloyd assignment step: its number (1, 2, ...), the k-means
     * objective after it and how many ids changed cluster (all of them at step 1). */
    void (*progress)(void *ctx, int iteration, double objective, int64_t moved);
    void *progress_ctx;
} tok_cluster_settings;

/* Fills *s with the defaults: 512 features, 100 iterations, 1 thread, no report. */
void tok_default_cluster_settings(tok_cluster_settings *s);

/* What tok_cluster_map did. */
typedef struct tok_cluster_stats {
    int32_t present;  /* alphabet ids that occur in the corpus */
    int32_t embedded; /* ids with a non-zero embedding row: the k-means points */
    int32_t features; /* context ids used: min(F, present) */
    int iterations;   /* Lloyd assignment steps made */
    int converged;    /* 1 if the last step moved no id, 0 if max_iter stopped it */
    double objective; /* final k-means objective: sum of squared distances to centroids */
    int64_t nonzeros; /* non-zero entries of the embedding */
} tok_cluster_stats;

/* cluster:C. Fills map[0..alphabet) with cluster numbers in [0, nclusters), every cluster
 * non-empty, from the corpus ids[0..n) encoded in that alphabet (each id in 0..alphabet-1, or
 * negative: a boundary, e.g. between documents, that no pair of neighbours crosses).
 *
 * Embedding: the F most frequent ids of the corpus (ties: the smaller id) are the contexts.
 * Row x holds, for each context f, the PPMI of f as x's left neighbour and of f as its right
 * neighbour (2F columns): max(0, log(n(x, f) P / (n(x) n(f)))) with P the number of adjacent
 * pairs, n(x, f) the pairs of x with f on that side, n(x) the pairs where x has a neighbour
 * on that side and n(f) those where f is the neighbour on that side. Rows are L2-normalised
 * (so k-means on them clusters by cosine similarity).
 * k-means: greedy k-means++ seeding (each centre the best of 2 + floor(ln C) candidates
 * drawn with probability proportional to the squared distance to the nearest centre, as
 * scikit-learn does) with GSL's mt19937 seeded by gsl_rng_set(seed) (which keeps the seed's
 * low 32 bits and takes 0 as 4357), then Lloyd iterations until no id changes cluster or
 * max_iter steps. A cluster left empty takes the id farthest from its centroid among
 * clusters of two or more. The objective never increases (up to rounding).
 *
 * Ids without an embedding row (absent from the corpus, or with no positive PPMI against
 * the contexts) are not k-means points. If fewer than C ids have rows, every one of those is
 * a cluster and the first such rowless ids (ascending) fill the remaining clusters, one each.
 * Every other rowless id joins the largest cluster (on ties, the one holding the smallest
 * id). Clusters are numbered in the order of their smallest id, so equal partitions give
 * equal maps.
 *
 * Deterministic: the same corpus, C, seed and features give the same map for any thread
 * count; another seed may give another map. Errors (TOK_EINVAL, with the value in err):
 * nclusters < 1 or > alphabet, alphabet < 1, a corpus with no id, features < 1, max_iter < 1,
 * NULL arrays; TOK_ERANGE: an id >= alphabet (err names its position); TOK_ENOMEM. s NULL:
 * the defaults; stats may be NULL. Cost: O(n) to count, O(C (2 + ln C) nnz) to seed, O(C nnz)
 * per Lloyd step (nnz: the embedding's non-zeros, a few dozen per id); memory 8 n bytes while
 * counting, then O(nnz + 2F C). On the shipped prose (4.4 MB: 1.14 M ids of a 4096-token
 * level, 3764 ids embedded, 133 k non-zeros), one thread of a 2-core EPYC shared with other
 * work (load 1 to 7): 0.1 to 0.3 s for C = 16 (31 steps) and 64 (20), 0.25 to 0.8 s for 256
 * (12), 0.7 to 2 s for 1024 (4 steps; the seeding is three quarters of it).
 * tests/bench/bench_coarsen measures it: meson test --benchmark coarsen -v. */
int tok_cluster_map(const int32_t *ids, size_t n, int32_t alphabet, int32_t nclusters,
                    uint64_t seed, const tok_cluster_settings *s, int32_t *map,
                    tok_cluster_stats *stats, tok_err *err);

#ifdef __cplusplus
}
#endif

#endif /* PYRAMASK_TOK_H */
