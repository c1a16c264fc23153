/* varlen.c: variable-length generation: the end-of-text cut applied after decoding, and the
 * DreamOn sampler whose [expand] and [delete] states grow and shrink the sequences. */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

void model_cut_at_eot(int32_t *tokens, int B, int T, int32_t eot, int *lengths)
{
    for (int b = 0; b < B; b++) {
        int32_t *x = tokens + (size_t)b * T;
        int len = 0;
        while (len < T && x[len] != eot)
            len++;
        for (int t = len; t < T; t++)
            x[t] = eot;
        if (lengths)
            lengths[b] = len;
    }
}
