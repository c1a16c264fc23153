/* libmask tests: runs the named test groups (all when none is named); exit 1 on a failure.
 * Each group is also its own meson test in the `unit` suite. */
#include <stdio.h>
#include <string.h>

#include "check.h"

int check_count, check_failures;

static const struct {
    const char *name;
    void (*fn)(void);
} groups[] = {
    {"schedule", test_schedule},
    {"curriculum", test_curriculum},
    {"structure", test_structure},
    {"types", test_types},
    {"importance", test_importance},
    {"errors", test_errors},
    {"data", test_data},
    {"chain", test_chain},
    {"chain-elbo", test_chain_elbo},
    {"varlen", test_varlen},
};

int main(int argc, char **argv)
{
    int ran = 0;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        int wanted = argc < 2;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], groups[g].name) == 0;
        if (!wanted)
            continue;
        int before = check_failures;
        groups[g].fn();
        printf("%-12s %s\n", groups[g].name, check_failures == before ? "ok" : "FAILED");
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "test_mask: no test group named '%s'\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    return check_failures ? 1 : 0;
}
