/* pyramid_cache.c: opening tokenizer.pyramid, or training one with libtok on the training
 * documents and caching it by content hash, with a file lock so one process builds it. */
#include "pyramid_cache.h"
#include "progress.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int pyramid_mkdirs(const char *dir)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(p, 0777) && errno != EEXIST ? -1 : 0;
}

static int check_levels(tok *t, const struct config *c, char err[CONFIG_ERR_MAX])
{
    const struct config_values *v = config_values(c);
    int top = tok_nlevels(t);
    if (v->tokenizer.model_level > top)
        return config_fail(
            err,
            "%s: tokenizer.model_level: level %ld does not exist (the pyramid has "
            "levels 0..%d)",
            config_where(c, config_key_index("tokenizer.model_level")),
            v->tokenizer.model_level, top);
    if (!strcmp(v->mask.structure, "unit") && v->mask.unit_level > top)
        return config_fail(
            err,
            "%s: mask.unit_level: level %ld does not exist (the pyramid has levels "
            "0..%d)",
            config_where(c, config_key_index("mask.unit_level")), v->mask.unit_level, top);
    return 0;
}

int pyramid_get(tok **out, const struct config *c, const struct corpus *corp,
                const char *cache_dir, char path[PATH_MAX], char hash[17],
                char err[CONFIG_ERR_MAX])
{
    const struct config_values *v = config_values(c);
    tok_err te = {0};
    *out = NULL;
    if (*v->tokenizer.pyramid) {
        snprintf(path, PATH_MAX, "%s", v->tokenizer.pyramid);
        int rc = tok_open(out, path, &te);
        if (rc)
            return config_fail(err, "%s: tokenizer.pyramid: %s: %s",
                               config_where(c, config_key_index("tokenizer.pyramid")), path,
                               te.msg[0] ? te.msg : tok_strerror(rc));
        tok_hash(*out, hash);
        rc = check_levels(*out, c, err);
        if (rc)
            tok_close(out);
        return rc;
    }
    tok_err pe = {0};
    if (tok_check_pretok(v->tokenizer.pretok, &pe))
        return config_fail(err, "%s: tokenizer.pretok: %s",
                           config_where(c, config_key_index("tokenizer.pretok")), pe.msg);
    size_t n = corp->train_len;
    if (v->tokenizer.train_bytes && (size_t)v->tokenizer.train_bytes < n)
        n = (size_t)v->tokenizer.train_bytes;
    /* the hash covers everything the build reads */
    char settings[512];
    snprintf(settings, sizeof settings, "pyramid v1\nlevels=%s\nsuperword=%ld\npretok=%s\n",
             config_value(c, config_key_index("tokenizer.levels")), v->tokenizer.superword,
             v->tokenizer.pretok);
    uint64_t h = config_fnv(CONFIG_FNV_SEED, settings, strlen(settings));
    h = config_fnv(h, corp->train, n);
    snprintf(hash, 17, "%016llx", (unsigned long long)h);
    if (pyramid_mkdirs(cache_dir))
        return config_fail(err, "%s: %s", cache_dir, strerror(errno)), -2;
    char lock[PATH_MAX + 8];
    snprintf(path, PATH_MAX, "%s/%s.pyr", cache_dir, hash);
    snprintf(lock, sizeof lock, "%s/%s.lock", cache_dir, hash);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0 || flock(fd, LOCK_EX)) {
        if (fd >= 0)
            close(fd);
        return config_fail(err, "%s: %s", lock, strerror(errno)), -2;
    }
    int rc = 0;
    if (access(path, R_OK) == 0) {
        rc = tok_open(out, path, &te);
        if (rc) /* libtok's messages name the file */
            rc = (config_fail(err, "%s", te.msg[0] ? te.msg : tok_strerror(rc)), -2);
    } else {
        tok_train_settings s;
        tok_default_train_settings(&s);
        s.pretok = v->tokenizer.pretok;
        s.nlevels = v->tokenizer.nlevels;
        for (int i = 0; i < s.nlevels; i++)
            s.levels[i] = v->tokenizer.levels[i];
        s.superword = (int32_t)v->tokenizer.superword;
        s.nthreads = (int)v->train.threads;
        struct progress pr; /* plain lines in batch logs; the caller's line on a terminal */
        progress_start_lines(&pr, "building the pyramid", NULL, 0);
        s.progress = progress_phase;
        s.progress_ctx = &pr;
        const void *texts[1] = {corp->train};
        size_t lens[1] = {n};
        rc = tok_train_buffers(out, &s, texts, lens, 1, &te);
        progress_end(&pr);
        if (rc)
            rc = config_fail(err, "%s: building the pyramid: %s",
                             config_where(c, config_key_index("tokenizer.levels")),
                             te.msg[0] ? te.msg : tok_strerror(rc));
        else if ((rc = tok_save(*out, path, &te)))
            rc = (config_fail(err, "%s", te.msg[0] ? te.msg : tok_strerror(rc)), -2);
    }
    flock(fd, LOCK_UN);
    close(fd);
    if (!rc)
        rc = check_levels(*out, c, err);
    if (rc)
        tok_close(out);
    return rc;
}
