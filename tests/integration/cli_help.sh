#!/bin/sh
# Every subcommand answers --help with exit 0; an unknown one exits 2 with the house error format.
set -u
exe=$1
fail=0
"$exe" --help >/dev/null || { echo "pyramask --help: exit $?" >&2; fail=1; }
for cmd in $("$exe" --help | awk '/^commands:/{on=1; next} on && !NF {exit} on {print $1}'); do
    "$exe" "$cmd" --help >/dev/null || { echo "pyramask $cmd --help: exit $?, expected 0" >&2; fail=1; }
done
err=$("$exe" no-such-command 2>&1 >/dev/null); rc=$?
[ $rc -eq 2 ] || { echo "unknown command: exit $rc, expected 2" >&2; fail=1; }
case "$err" in "pyramask: no-such-command: unknown command"*) ;;
    *) echo "unknown command: stderr was '$err'" >&2; fail=1 ;; esac
exit $fail
