# export_lib.sh: shared by the export tests: exp_lib.sh's scratch directory, tiny config and
# assertions, and sweeps of the tiny config logged in $PYRAMASK_DB.
# Usage (sourced): . export_lib.sh PYRAMASK DATA_DIR
. "$(dirname "$0")/exp_lib.sh"

# sweep NAME FACTOR_LINE...: runs the sweep NAME of tiny.ini over seeds 1 and 2
sweep() {
    name=$1
    shift
    {
        printf '[sweep]\nname = %s\nbase = tiny.ini\nseeds = 1, 2\n' "$name"
        for line in "$@"; do printf '%s\n' "$line"; done
    } > "sweep-$name.ini"
    "$P" sweep run "sweep-$name.ini" --jobs 2 2>err.txt || { cat err.txt >&2; exit 1; }
}

# files: the names in the scratch directory, one line
files() { ls -A | tr '\n' ' '; }
