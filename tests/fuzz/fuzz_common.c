/* fuzz_common.c: the fuzz harnesses' shared helpers: a private scratch directory removed
 * at exit, writing an input to a file, reading the shipped data. */
#include "fuzz_common.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                unlink(path);
            }
        closedir(d);
    }
    rmdir(dir);
}

const char *fuzz_dir(void)
{
    if (!dir[0]) {
        struct stat st;
        const char *base = getenv("FUZZ_TMPDIR");
        if (!base || !*base)
            base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
                           access("/dev/shm", W_OK) == 0
                       ? "/dev/shm"
                       : "/tmp";
        snprintf(dir, sizeof dir, "%s/pyramask-fuzz-XXXXXX", base);
        FUZZ_CHECK(mkdtemp(dir), "cannot make a scratch directory under %s", base);
        atexit(remove_dir);
    }
    return dir;
}

const char *fuzz_write(const char *name, const void *data, size_t n)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f, "cannot write %s", path);
    FUZZ_CHECK(n == 0 || fwrite(data, 1, n, f) == n, "cannot write %s", path);
    FUZZ_CHECK(fclose(f) == 0, "cannot write %s", path);
    return path;
}

uint8_t *fuzz_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0, got;
    uint8_t *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *nb = realloc(buf, 2 * cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = 0;
    *n = len;
    return buf;
}

uint8_t *fuzz_data(const char *rel, size_t max, size_t *n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", FUZZ_SOURCE_ROOT, rel);
    uint8_t *buf = fuzz_read(path, n);
    FUZZ_CHECK(buf, "cannot read %s", path);
    if (*n > max)
        *n = max;
    buf[*n] = 0;
    return buf;
}
