/* replay.c: a plain main() around a fuzz harness: runs every file given (or every file in
 * a directory given) through it once, so seeds and past crashes are tests of every build. */
#include "fuzz_common.h"

#include <dirent.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

static long replay_file(const char *path)
{
    size_t n;
    uint8_t *buf = fuzz_read(path, &n);
    if (!buf) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        exit(1);
    }
    /* a copy of exactly n bytes, so that ASan sees a read past the input */
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
    return 1;
}

static long replay(const char *path)
{
    struct stat st;
    if (stat(path, &st))
        return 0; /* a harness with no past crashes has no regression folder */
    if (!S_ISDIR(st.st_mode))
        return replay_file(path);
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    long count = 0;
    for (int i = 0; i < n; i++) {
        char sub[4096];
        if (names[i]->d_name[0] != '.') {
            snprintf(sub, sizeof sub, "%s/%s", path, names[i]->d_name);
            count += replay(sub);
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
#if !defined(__SANITIZE_ADDRESS__) && !defined(ADDRESS_SANITIZER)
    /* like libFuzzer's malloc limit: an input that makes the code under test ask for more
     * memory than its size can justify fails where it would succeed lazily (ASan keeps its
     * own shadow memory, so only plain builds are limited) */
    struct rlimit lim = {(rlim_t)4 << 30, (rlim_t)4 << 30};
    setrlimit(RLIMIT_AS, &lim);
#endif
    LLVMFuzzerInitialize(&argc, &argv);
    long n = 0;
    for (int i = 1; i < argc; i++)
        n += replay(argv[i]);
    if (n == 0) {
        fprintf(stderr, "replay: no input found\n");
        return 1;
    }
    printf("replayed %ld inputs\n", n);
    return 0;
}
