/* notebooks-export tests: runs one group (markup, svgplot, report) or all of them. */
#include "check.h"

int check_count, check_failures;

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } groups[] = {{"markup", test_markup}, {"svgplot", test_svgplot}, {"report", test_report}};
    int ran = 0;
    for (size_t i = 0; i < sizeof groups / sizeof *groups; i++)
        if (argc < 2 || !strcmp(argv[1], groups[i].name)) {
            groups[i].run();
            ran++;
        }
    if (!ran) {
        fprintf(stderr, "unknown test group '%s'\n", argv[1]);
        return 2;
    }
    if (check_failures)
        fprintf(stderr, "%d checks failed\n", check_failures);
    return check_failures ? 1 : 0;
}
