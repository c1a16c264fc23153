/* fuzz_pretok.c: a user's pre-tokenizer regex (the input's first line) and a text (the
 * rest): the regex is checked, a small pyramid trained with it on a slice of data/ and the
 * text, and the text must round-trip at every level. */
#include "fuzz_common.h"
#include "fuzz_tok.h"

#include <string.h>

static uint8_t *prose;
static size_t prose_n;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    prose = fuzz_data("data/prose/kjv.txt", 3000, &prose_n);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t rlen = nl ? (size_t)(nl - data) : size;
    if (rlen > 512 || memchr(data, 0, rlen))
        return 0; /* a regex is a C string of reasonable length */
    char regex[513];
    memcpy(regex, data, rlen);
    regex[rlen] = 0;
    const uint8_t *text = nl ? nl + 1 : data + size;
    size_t tlen = (size_t)(data + size - text);
    tok_err err = {0};
    int rc = tok_check_pretok(regex, &err);
    FUZZ_CHECK(rc == 0 || ((rc == TOK_EREGEX || rc == TOK_EINVAL) && err.msg[0]),
               "check: %s (%s)", tok_strerror(rc), err.msg);
    if (rc)
        return 0;
    tok_train_settings s;
    tok_default_train_settings(&s);
    s.pretok = regex;
    s.nlevels = 1;
    s.levels[0] = 290;
    s.superword = 300;
    const void *texts[2] = {prose, text};
    size_t lens[2] = {prose_n, tlen};
    tok *t = NULL;
    rc = tok_train_buffers(&t, &s, texts, lens, 2, &err);
    FUZZ_CHECK(rc == 0 || rc == TOK_ECORPUS, "training: %s (%s)", tok_strerror(rc), err.msg);
    if (rc)
        return 0;
    const char *want = tok_preset_pattern(regex) ? tok_preset_pattern(regex) : regex;
    FUZZ_CHECK(!strcmp(tok_pretok(t), want), "the pyramid's regex is '%s'", tok_pretok(t));
    fuzz_tok_round_trip(t, text, tlen);
    fuzz_tok_save_load(t);
    tok_close(&t);
    return 0;
}
