/* fuzz_config.c: INI configs and sweep files, with `--set` arguments taken from lines
 * "#set key=value": a clear error (never "out of memory": the input is small), or configs
 * whose canonical text reads back to the same text and hash; every cell of a sweep builds,
 * seeds of one cell share its hash. */
#include "config.h"
#include "fuzz_common.h"
#include "sweep.h"

#include <string.h>

static const char base_ini[] = "[data]\ncorpus = corpus.txt\n[model]\nd = 16\nheads = 2\n"
                               "[train]\nsteps = 3\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_write("base.ini", base_ini, sizeof base_ini - 1);
    return 0;
}

/* The canonical text, read back, is the same configuration. */
static void round_trip(const struct config *c)
{
    char err[CONFIG_ERR_MAX], h1[17], h2[17];
    char *text = config_text(c, 0);
    FUZZ_CHECK(text, "config_text");
    struct config *c2 = config_new();
    FUZZ_CHECK(c2, "config_new");
    int rc = config_load_string(c2, text, "canonical.ini", err);
    FUZZ_CHECK(rc == 0, "the canonical text does not load: %s\n%s", err, text);
    FUZZ_CHECK(config_finish(c2, err) == 0, "the canonical text does not finish: %s", err);
    char *text2 = config_text(c2, 0);
    FUZZ_CHECK(text2 && !strcmp(text, text2),
               "the canonical text changes when read back:\n%s\n"
               "---\n%s",
               text, text2);
    config_hash(c, h1);
    config_hash(c2, h2);
    FUZZ_CHECK(!strcmp(h1, h2), "hash %s read back as %s", h1, h2);
    free(text);
    free(text2);
    config_free(&c2);
}

static int contains(const uint8_t *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(p + i, s, k))
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s", fuzz_write("in.ini", data, size));
    /* --set arguments: lines "#set k=v" (comments to the INI reader) */
    char *sets[4], *copy = malloc(size + 1);
    int nsets = 0;
    memcpy(copy, data, size);
    copy[size] = 0;
    for (char *line = copy; line && nsets < 4;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (!strncmp(line, "#set ", 5))
            sets[nsets++] = line + 5;
        line = nl ? nl + 1 : NULL;
    }
    char err[CONFIG_ERR_MAX] = "";
    int quotes_oom = contains(data, size, "out of memory"); /* in a name the message quotes */
    struct config *c = config_open(path, sets, nsets, err);
    if (c) {
        round_trip(c);
        config_free(&c);
    } else {
        FUZZ_CHECK(err[0], "config_open failed without a message");
        /* inputs this small never exhaust memory: the message must give the real reason */
        FUZZ_CHECK(quotes_oom || !strstr(err, "out of memory"), "config_open: %s", err);
    }
    struct sweep *s = NULL;
    err[0] = 0;
    int rc = sweep_load(&s, path, sets, nsets, err);
    if (rc == 0) {
        long n = sweep_ncells(s);
        FUZZ_CHECK(n >= 1 && s->nseeds >= 1, "%ld cells, %d seeds", n, s->nseeds);
        char first[17] = "";
        for (long i = 0; i < n && i < 16; i++) {
            struct config *cell = sweep_cell(s, i, err);
            FUZZ_CHECK(cell, "cell %ld of a loaded sweep: %s", i, err);
            char h[17];
            config_hash(cell, h);
            if (i % s->nseeds == 0)
                snprintf(first, sizeof first, "%s", h);
            FUZZ_CHECK(!strcmp(h, first), "cell %ld: seeds of one cell have hashes %s and %s",
                       i, first, h);
            FUZZ_CHECK(config_values(cell)->train.seed == s->seeds[i % s->nseeds],
                       "cell %ld: seed %ld, expected %ld", i, config_values(cell)->train.seed,
                       s->seeds[i % s->nseeds]);
            round_trip(cell);
            config_free(&cell);
        }
        sweep_free(&s);
    } else {
        FUZZ_CHECK(!s && err[0], "sweep_load failed (%d) without a message", rc);
        FUZZ_CHECK(quotes_oom || !strstr(err, "out of memory"), "sweep_load: %s", err);
    }
    free(copy);
    return 0;
}
