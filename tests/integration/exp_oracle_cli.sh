#!/bin/sh
# model.kind = oracle on data.source = markov: nonsense combinations are file:line errors
# (exit 2, no run log); a run trains nothing and its nelbo_bpb, computed by the harness's
# scoring path with the exact posteriors, equals its exact_nll_bpb within 4 standard errors,
# as does the run's own bound under another schedule and structure.
. "$(dirname "$0")/exp_lib.sh"

err() { err=$("$@" 2>&1 >/dev/null); rc=$?; }

printf '[data]\nsource = markov\n[model]\nkind = oracle\nseq_len = 32\n[score]\nsamples = 0\n' > o.ini
printf '[model]\nkind = oracle\n' > bad.ini
err "$P" train -c bad.ini
expect "oracle on a corpus exit" 2 "$rc"
contains "oracle on a corpus" "bad.ini:2: model.kind: oracle needs data.source = markov" "$err"
err "$P" train -c o.ini --set model.mode=ar
expect "oracle ar exit" 2 "$rc"
contains "oracle ar" "model.mode: 'ar': the markov source's exact measures are built for masked diffusion" "$err"
err "$P" train -c o.ini --set mask.structure=regex
contains "markov regex" "mask.structure: regex cuts by coarser levels or text" "$err"
err "$P" train -c o.ini --set mask.chain=class
contains "markov chain" "mask.chain: 'class' needs a pyramid" "$err"
err "$P" train -c o.ini --set model.kind=transformer --set score.sample_strategy=block \
    --set score.samples=2 --set model.mode=ar
contains "markov transformer ar" "model.mode: 'ar': the markov source's exact measures" "$err"
err "$P" train -c o.ini --set data.markov_alphabet=65
expect "alphabet range exit" 2 "$rc"
err "$P" score -c o.ini --checkpoint none.ckpt
expect "score on markov exit" 2 "$rc"
contains "score on markov" "data.source = markov: no checkpoint is scored on it" "$err"
err "$P" mask preview -c o.ini
expect "preview on markov exit" 2 "$rc"
[ ! -e pyramask.db ] || { echo "FAIL a bad config created the run log" >&2; fail=1; }

"$P" train -c o.ini --set mask.schedule=cosine --set mask.structure=block \
    --set mask.block=8 >/dev/null 2>&1
expect "oracle run" 0 "$?"
expect "finished" finished "$(sql "select status from runs")"
expect "no training" 0 "$(sql "select value from metrics where key = 'params'")"
for m in nelbo_bpb nelbo_bpb_sched; do
    expect "$m = exact_nll_bpb" 1 "$(sql "select abs(a.value - b.value) < 4 * a.stderr
        from scores a, scores b where a.metric = '$m' and b.metric = 'exact_nll_bpb'")"
done

# the samplers on the oracle: the exact bigram KL of the ancestral sampler falls with its
# steps; an unsupported sampler is a config error
err "$P" train -c o.ini --set score.samples=4 --set score.sample_strategy=remdm
contains "oracle remdm" "score.sample_strategy: 'remdm' is not among the oracle's samplers" "$err"
for steps in 1 32; do
    "$P" train -c o.ini --db s$steps.db --set score.samples=200 \
        --set score.sample_steps=$steps --set score.sample_strategy=random >/dev/null 2>&1
    expect "samples $steps" 0 "$?"
done
kl1=$("$P" sql --db s1.db --csv "select value from scores where metric = 'sample_kl_bigram'" | tail -1)
kl32=$("$P" sql --db s32.db --csv "select value from scores where metric = 'sample_kl_bigram'" | tail -1)
expect "KL falls with the steps ($kl1, $kl32)" 1 "$(awk -v a="$kl1" -v b="$kl32" 'BEGIN { print (b < a / 10) }')"
expect "sample_nfe: calls per sample" 32 "$("$P" sql --db s32.db --csv "select cast(value as int) from scores where metric = 'sample_nfe'" | tail -1)"

# a transformer trained on the chain: its NELBO bounds the exact NLL of the same windows, its
# samples are measured exactly, and there is no pyramid
"$P" train -c o.ini --db tr.db --set model.kind=transformer --set model.d=16 \
    --set train.steps=60 --set score.samples=50 --set score.sample_steps=8 \
    --set score.sample_strategy=random >/dev/null 2>err.txt || { cat err.txt >&2; fail=1; }
trs() { "$P" sql --db tr.db --csv "$1" | tail -n +2; }
expect "transformer on markov: finished and trained" "finished|1" "$(trs "select r.status, m.value > 0 from runs r join metrics m on m.run_id = r.run_id and m.key = 'params'" | tr , '|')"
expect "its NELBO bounds the exact NLL" 1 "$(trs "select a.value > b.value - 4 * a.stderr
    from scores a, scores b where a.metric = 'nelbo_bpb' and b.metric = 'exact_nll_bpb'")"
expect "its samples measured exactly" "3|8" "$(trs "select count(*) filter (where metric in ('sample_kl_bigram', 'sample_true_nll_bpb', 'sample_js2')), max(value) filter (where metric = 'sample_nfe') from scores where split = 'samples'" | sed 's/\.0$//' | tr , '|')"
expect "no pyramid" 0 "$(trs "select count(*) from artifacts where kind = 'pyramid'")"

exit $fail
