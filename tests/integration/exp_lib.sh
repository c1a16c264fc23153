# exp_lib.sh: shared by the experiments integration tests: a scratch directory, a tiny
# config on the shipped prose, and assertions that print what was expected and what came.
# Usage (sourced): . exp_lib.sh PYRAMASK DATA_DIR
P=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
DATA=$(cd "$2" && pwd)
T=$(mktemp -d /tmp/pyramask-it-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
export PYRAMASK_DB="$T/pyramask.db"
fail=0

# tiny.ini: a run of well under a second on the first 200 kB of the prose corpus
cat > tiny.ini <<EOT
[data]
corpus = $DATA/prose/kjv.txt
max_bytes = 200000
[tokenizer]
levels = 300, 400, 600
train_bytes = 150000
[model]
d = 32
layers = 1
heads = 2
seq_len = 32
[train]
steps = 20
batch = 8
log_every = 10
[score]
max_tokens = 1024
t_samples = 2
samples = 1
sample_steps = 4
EOT

# sql QUERY: one value or CSV rows, without the header line
sql() { "$P" sql --csv "$1" | tail -n +2; }

# expect WHAT EXPECTED ACTUAL
expect() {
    if [ "$2" != "$3" ]; then
        echo "FAIL $1: expected '$2', got '$3'" >&2
        fail=1
    fi
}

# contains WHAT NEEDLE HAYSTACK
contains() {
    case "$3" in
        *"$2"*) ;;
        *) echo "FAIL $1: expected to contain '$2', got '$3'" >&2; fail=1 ;;
    esac
}
