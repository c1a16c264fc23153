/* test_tok.h: what libtok's unit test files share: check macros that print expected and
 * actual values, the shipped data, and the pyramids the tests train once. */
#ifndef PYRAMASK_TEST_TOK_H
#define PYRAMASK_TEST_TOK_H

#include "../check.h"
#include "tok.h"

#include <stdio.h>

#define CHECK_OK(rc, err) \
    CHECK((rc) == 0, "expected success, got %s (%s)", tok_strerror(rc), (err).msg)

/* A buffer read from a file under the data directory. */
typedef struct blob {
    unsigned char *p;
    size_t n;
} blob;

extern const char *data_dir, *fixture_dir, *tmp_dir;
blob read_blob(const char *path);                     /* exits the test program if unreadable */
blob data_file(const char *rel);                      /* under data_dir */
blob random_bytes(unsigned seed, size_t n, int kind); /* kind 0: any bytes; 1: UTF-8-ish text */
void free_blob(blob *b);

/* Pyramids trained once on a slice of the shipped corpora (prose, code). */
const tok *prose_pyramid(void);
const tok *code_pyramid(void);
blob prose_text(void);
blob code_text(void);

void test_pretok(void);
void test_encode(void);
void test_align(void);
void test_train(void);
void test_files(void);
void test_tiktoken(void);
void test_errors(void);
void test_coarsen(void);

#endif
