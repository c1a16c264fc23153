/* ar_ref.c: ar_ref IN OUT: writes OUT, an ar model with IN's shape, tokenizer and metadata
 * and fresh parameters: a reference checkpoint of the same tokenizer for the tests of
 * sample.reference. */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ar_ref IN OUT\n");
        return 2;
    }
    model *in = NULL, *out = NULL;
    char *meta = NULL;
    if (model_load(&in, argv[1], 1, &meta)) {
        fprintf(stderr, "ar_ref: %s: %s\n", argv[1], model_errmsg(in));
        return 1;
    }
    model_settings s;
    model_default_settings(&s);
    s.config = *model_get_config(in);
    s.config.mode = MODEL_AR;
    s.config.block = 0;
    s.config.n_desc = 0;
    s.threads = 1;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    int rc = model_open(&out, &s, r) || model_save(out, argv[2], meta, 0);
    if (rc)
        fprintf(stderr, "ar_ref: %s\n", model_errmsg(out));
    gsl_rng_free(r);
    free(meta);
    model_close(&in);
    model_close(&out);
    return rc ? 1 : 0;
}
