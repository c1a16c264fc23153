/* test_safe_file.c: the harness's file writer: a committed file is whole, a failed write
 * (a file size limit standing in for a full disk) or an abort leaves the older file as it
 * was and no temporary file, and errors name the file. */
#include "../check.h"
#include "safe_file.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int check_count, check_failures;
static char dir[] = "/tmp/pyramask-safe-XXXXXX";

/* The file's contents ("" when absent or empty; "(missing)" when absent). */
static const char *contents(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "rb");
    if (!f)
        return "(missing)";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* Entries of the directory besides "out.txt", ".", "..": leftover temporary files. */
static int leftovers(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "out.txt");
    if (d)
        closedir(d);
    return n;
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[512], err[1024] = "";
    snprintf(path, sizeof path, "%s/out.txt", dir);
    struct safe_file sf;

    /* a commit puts the whole file in place, mode 0666 less the umask */
    mode_t mask = umask(022);
    CHECK_INT(0, safe_file_open(&sf, path, err, sizeof err));
    CHECK(strstr(sf.tmp, dir) == sf.tmp, "the temporary file %s is not beside %s", sf.tmp,
          path);
    fputs("first version\n", sf.f);
    CHECK_STR("(missing)", contents(path)); /* nothing under the name before the commit */
    CHECK(safe_file_commit(&sf, err, sizeof err) == 0, "commit: %s", err);
    CHECK_STR("first version\n", contents(path));
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644, "mode %o", sb.st_mode & 0777);
    umask(mask);
    CHECK_INT(0, leftovers());
    CHECK(sf.f == NULL && sf.tmp == NULL && sf.path == NULL, "a committed file is closed");
    safe_file_abort(&sf); /* harmless after a commit */

    /* an abort leaves the older file and no temporary file */
    CHECK_INT(0, safe_file_open(&sf, path, err, sizeof err));
    fputs("second version, abandoned\n", sf.f);
    safe_file_abort(&sf);
    CHECK_STR("first version\n", contents(path));
    CHECK_INT(0, leftovers());

    /* a write that fails (past RLIMIT_FSIZE, as on a full disk): the commit reports it with
     * the file's name, the older file stays, nothing is left behind */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 4096;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit: %s", strerror(errno));
    CHECK_INT(0, safe_file_open(&sf, path, err, sizeof err));
    for (int i = 0; i < 1000; i++)
        fputs("a line of a file that will not fit under the limit\n", sf.f);
    CHECK_INT(-1, safe_file_commit(&sf, err, sizeof err));
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK(strstr(err, path) && strstr(err, strerror(EFBIG)), "error: %s", err);
    CHECK_STR("first version\n", contents(path));
    CHECK_INT(0, leftovers());

    /* a directory that does not exist: the error names the file, nothing is opened */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such/dir/out.txt", dir);
    err[0] = 0;
    CHECK_INT(-1, safe_file_open(&sf, missing, err, sizeof err));
    CHECK(strstr(err, missing) && strstr(err, strerror(ENOENT)), "error: %s", err);
    CHECK(sf.f == NULL && sf.tmp == NULL, "a failed open leaves sf closed");
    safe_file_abort(&sf);

    /* a bare file name: the directory synced is the working directory */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) && chdir(dir) == 0, "chdir %s", dir);
    CHECK_INT(0, safe_file_open(&sf, "out.txt", err, sizeof err));
    fputs("third version\n", sf.f);
    CHECK(safe_file_commit(&sf, err, sizeof err) == 0, "commit: %s", err);
    CHECK(chdir(cwd) == 0, "chdir back");
    CHECK_STR("third version\n", contents(path));
    CHECK_INT(0, leftovers());

    unlink(path);
    rmdir(dir);
    if (check_failures)
        fprintf(stderr, "%d of %d checks failed\n", check_failures, check_count);
    return check_failures ? 1 : 0;
}
