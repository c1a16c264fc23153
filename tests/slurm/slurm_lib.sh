# slurm_lib.sh: a one-node Slurm cluster of its own for a test: munged, slurmctld and slurmd
# started in a scratch directory (its own munge key and socket, free ports, a config written
# here), and stopped again by their process ids. Sourced; Debian 12's Slurm 22.05 and munge.
#   slurm_start DIR   starts the daemons and exports SLURM_CONF, or returns 1 with $why
#   slurm_stop        cancels the cluster's jobs and stops the daemons it started
#   slurm_wait IDS    waits (at most $SLURM_WAIT seconds, default 240) until none of the
#                     jobs (comma-separated ids) is pending or running

slurm_pids=""
why=""

# a TCP port pair nobody listens on (listening sockets: state 0A in /proc/net/tcp, tcp6)
slurm_free_ports() {
    used=" $(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
        awk 'NR > 1 && $4 == "0A" { split($2, a, ":"); print a[2] }' |
        while read -r h; do printf '%d ' "0x$h"; done) "
    tries=0
    while [ $tries -lt 50 ]; do
        p=$(( (($$ * 7919 + tries * 104729) % 10000) * 2 + 20000 ))
        case "$used" in
            *" $p "*|*" $((p + 1)) "*) ;;
            *) echo "$p"; return 0 ;;
        esac
        tries=$((tries + 1))
    done
    return 1
}

# the daemons' last words, for a skip or a failure message
slurm_logs() {
    for f in "$1"/munged.log "$1"/slurmctld.log "$1"/slurmd.log; do
        [ -s "$f" ] && { echo "--- $f"; tail -n 8 "$f"; }
    done
}

slurm_start() {
    D=$1
    for cmd in munged mungekey slurmctld slurmd sbatch squeue scancel scontrol sinfo; do
        command -v "$cmd" >/dev/null 2>&1 ||
            [ -x "/usr/sbin/$cmd" ] || { why="$cmd is not installed (scripts/install-deps.sh slurm)"; return 1; }
    done
    PATH=$PATH:/usr/sbin
    export PATH
    if [ "$(id -u)" -ne 0 ]; then
        why="not root: slurmd runs jobs as their users, and munged and slurmd need root here"
        return 1
    fi
    mkdir -p "$D/state" "$D/spool" "$D/munge" && chmod 755 "$D" "$D/munge" ||
        { why="cannot write $D"; return 1; }
    mungekey --create --keyfile="$D/munge/munge.key" >/dev/null 2>&1 ||
        { why="mungekey could not create a key"; return 1; }
    chmod 400 "$D/munge/munge.key"
    # munged refuses a world-writable socket directory unless --force; the key is ours
    munged --foreground --force --socket="$D/munge/socket" --key-file="$D/munge/munge.key" \
        --log-file="$D/munged.log" --pid-file="$D/munge/munged.pid" \
        --seed-file="$D/munge/seed" >/dev/null 2>&1 &
    slurm_pids="$!"
    i=0
    while [ ! -S "$D/munge/socket" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    [ -S "$D/munge/socket" ] || { why="munged did not start: $(slurm_logs "$D")"; return 1; }
    port=$(slurm_free_ports) || { why="no free TCP port pair"; return 1; }
    host=$(uname -n | cut -d. -f1)
    cat > "$D/slurm.conf" <<CONF
# written by tests/slurm: one node, this machine, for one test
ClusterName=pyramasktest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$D/munge/socket
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# batch jobs scheduled at once, not up to 3 s later (each throttled array task waited so)
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
MpiDefault=none
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    SLURM_CONF=$D/slurm.conf
    export SLURM_CONF
    slurmctld -D -f "$SLURM_CONF" >>"$D/slurmctld.out" 2>&1 &
    slurm_pids="$slurm_pids $!"
    slurmd -D -f "$SLURM_CONF" -N "$host" >>"$D/slurmd.out" 2>&1 &
    slurm_pids="$slurm_pids $!"
    i=0
    while [ $i -lt 300 ]; do
        state=$(sinfo -h -o %T 2>/dev/null)
        [ "$state" = idle ] && return 0
        for p in $slurm_pids; do
            kill -0 "$p" 2>/dev/null || { why="a daemon exited: $(slurm_logs "$D")"; return 1; }
        done
        sleep 0.1
        i=$((i + 1))
    done
    why="the node is '$state' after 30 s, not idle: $(slurm_logs "$D")"
    return 1
}

slurm_stop() {
    if [ -n "$slurm_pids" ] && [ -n "${SLURM_CONF:-}" ]; then
        jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
        [ -n "$jobs" ] && scancel $jobs 2>/dev/null
    fi
    # slurmd, then slurmctld, munged last (they need it to the end)
    set -- $slurm_pids
    for p in $3 $2 $1; do
        [ -n "$p" ] || continue
        kill "$p" 2>/dev/null
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    slurm_pids=""
}

slurm_wait() {
    i=0
    limit=$(( ${SLURM_WAIT:-240} * 10 ))
    while [ $i -lt $limit ]; do
        left=$(squeue -h -r -t PD,R,CG,CF,S -j "$1" -o %i 2>/dev/null)
        [ -z "$left" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
