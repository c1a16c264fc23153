/* pyramid_cache.h: the run's pyramid: tokenizer.pyramid when given, else one trained on
 * the training documents and cached by the hash of its inputs (one build per cache). */
#ifndef PYRAMASK_PYRAMID_CACHE_H
#define PYRAMASK_PYRAMID_CACHE_H

#include <limits.h>

#include "config.h"
#include "corpus.h"
#include "tok.h"

/* Opens or builds the pyramid. cache_dir holds built pyramids as <hash>.pyr; concurrent
 * processes wait for one builder (flock). path gets the file, hash its input hash (or
 * tok_hash for a given file). Returns 0, -1 for bad input (err with file:line) or -2. */
int pyramid_get(tok **out, const struct config *c, const struct corpus *corp,
                const char *cache_dir, char path[PATH_MAX], char hash[17],
                char err[CONFIG_ERR_MAX]);

/* mkdir -p; returns 0 or -1 with errno. */
int pyramid_mkdirs(const char *dir);

#endif
