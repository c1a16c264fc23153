#!/bin/sh
# exp_decoding_cli.sh: pyramask sample with every flat strategy and its parameters (flags
# override the checkpoint's [sample] section), the [sample] keys in a run, and parameters
# out of range: exit 2, why, no sample (bad runs in this shell: its checks count)
bad() {
    want=$1
    shift
    out=$("$P" sample --checkpoint "$ckpt" "$@" 2>&1)
    rc=$?
    expect "exit of sample $*" 2 "$rc"
    case "$out" in *"--- generated"*) echo "FAIL sample $*: printed a sample" >&2; fail=1 ;; esac
    contains "sample $*" "$want" "$out"
}
bad "--threshold 1.5: not a number in" --strategy threshold --threshold 1.5
bad "--eta -1: not a number in" --strategy remdm --eta -1
bad "eta 2 outside [0, 1] for schedule rescale" --strategy remdm --remdm-schedule rescale --eta 2
bad "need 0 <= t_off < t_on <= 1" --strategy remdm --remdm-schedule loop --t-on 0.2 --t-off 0.4
bad "unknown remdm schedule 'spam'" --strategy remdm --remdm-schedule spam
bad "unknown strategy 'spam'" --strategy spam
contains "config range" "sample.eta" "$("$P" config show -c tiny.ini --set sample.eta=-1 2>&1)"
exit $fail
