#!/usr/bin/env bash
# Throwaway single-node SLURM cluster for CI tests of the Snakemake SLURM
# executor (profiles/slurm).  Debian 12 packages, no systemd, run as root.
#
#   profiles/slurm/local-cluster.sh start    # install (if needed), configure, start, smoke-test
#   profiles/slurm/local-cluster.sh status   # daemon states + sinfo/squeue (exit 3 if a daemon is down)
#   profiles/slurm/local-cluster.sh stop     # stop only the daemons this script started
#   profiles/slurm/local-cluster.sh env      # print the (optional) export line
#
# The slurm.conf is written to the state directory and linked from
# /etc/slurm/slurm.conf, the path every Slurm command reads by default.  The
# SLURM_CONF environment variable alone is NOT enough: the executor's job step
# (snakemake-executor-plugin-slurm-jobstep) strips all SLURM_* variables
# before its nested `srun`, which then cannot find a config.  So callers need
# no environment variable; `start` and `env` still print one harmless line
#   export SLURM_CONF=/etc/slurm/slurm.conf
# on stdout (progress messages go to stderr), so either of these works:
#   profiles/slurm/local-cluster.sh start
#   eval "$(profiles/slurm/local-cluster.sh start)"
# An existing /etc/slurm/slurm.conf not written by this script is never
# overwritten (start fails instead).  `stop` removes the link.
#
# Environment (all optional):
#   LIF_SLURM_STATE_DIR   state dir (conf, logs, pid files, spool)  [/tmp/lif-tempering-slurm]
#   LIF_SLURM_CTLD_PORT   slurmctld port                            [6817]
#   LIF_SLURM_SLURMD_PORT slurmd port                               [6818]
#   LIF_SLURM_PARTITION   name of the single (default) partition    [debug]
#   LIF_SLURM_TIMEOUT     seconds to wait for node/smoke job        [90]
#   LIF_SLURM_NO_INSTALL  set to 1 to fail instead of apt-get installing
#
# Files written outside the state dir: the Debian packages themselves,
# /etc/munge/munge.key (only if missing), /run/munge (runtime dir), the
# /etc/slurm/slurm.conf link, and a temporary /usr/sbin/policy-rc.d during
# apt-get install (only if none exists; removed afterwards).
set -euo pipefail

STATE_DIR="${LIF_SLURM_STATE_DIR:-/tmp/lif-tempering-slurm}"
CTLD_PORT="${LIF_SLURM_CTLD_PORT:-6817}"
SLURMD_PORT="${LIF_SLURM_SLURMD_PORT:-6818}"
PARTITION="${LIF_SLURM_PARTITION:-debug}"
TIMEOUT="${LIF_SLURM_TIMEOUT:-90}"
CONF="$STATE_DIR/slurm.conf"
ETC_CONF=/etc/slurm/slurm.conf
CONF_TAG="Written by profiles/slurm/local-cluster.sh"
RUN_DIR="$STATE_DIR/run"      # our pid files
LOG_DIR="$STATE_DIR/log"
MUNGE_KEY=/etc/munge/munge.key
MUNGE_RUN=/run/munge
MUNGE_SOCKET="$MUNGE_RUN/munge.socket.2"
PACKAGES=(munge slurmctld slurmd slurm-client)

log() { printf '[local-cluster] %s\n' "$*" >&2; }
die() { printf '[local-cluster] ERROR: %s\n' "$*" >&2; exit 1; }

export_line() { printf 'export SLURM_CONF=%q\n' "$ETC_CONF"; }

# ---------------------------------------------------------------- pid files
# is_alive_as PID NAME: PID exists, is not a zombie, and its comm is NAME.
# (Zombies matter: PID 1 of these machines may reap killed daemons late.)
is_alive_as() {
    local pid=$1 name=$2 stat state
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    state=${stat##*) }
    state=${state%% *}
    [[ $state != Z && $state != X ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null || true) == "$name" ]]
}

# pid_of NAME: print the pid recorded in $RUN_DIR/NAME.pid if that process is
# alive and really is NAME (guards against pid reuse); else print nothing and
# remove a stale pid file.
pid_of() {
    local name=$1 f="$RUN_DIR/$1.pid" pid
    [[ -f $f ]] || return 0
    pid=$(tr -dc '0-9' <"$f" || true)
    if [[ -n $pid ]] && is_alive_as "$pid" "$name"; then
        echo "$pid"
        return 0
    fi
    rm -f "$f"
}

# wait_pidfile NAME SECONDS: wait until the daemon NAME wrote its pid file.
wait_pidfile() {
    local name=$1 secs=$2 i
    for ((i = 0; i < secs * 10; i++)); do
        [[ -n $(pid_of "$name") ]] && return 0
        sleep 0.1
    done
    return 1
}

show_log_tail() {
    local f=$1
    if [[ -f $f ]]; then
        log "last lines of $f:"
        tail -n 20 "$f" >&2 || true
    fi
}

# ---------------------------------------------------------------- install
install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
            missing+=("$p")
        fi
    done
    if ((${#missing[@]} == 0)); then
        log "packages present: ${PACKAGES[*]}"
        return 0
    fi
    [[ ${LIF_SLURM_NO_INSTALL:-0} == 1 ]] && die "missing packages (${missing[*]}) and LIF_SLURM_NO_INSTALL=1"
    [[ $(id -u) == 0 ]] || die "missing packages (${missing[*]}); run as root to install them"
    command -v apt-get >/dev/null || die "apt-get not found; this script needs Debian/Ubuntu"
    mkdir -p "$LOG_DIR"
    log "installing ${missing[*]} (apt-get; log: $LOG_DIR/apt.log) ..."
    export DEBIAN_FRONTEND=noninteractive
    # keep maintainer scripts from starting the daemons with the Debian
    # defaults (no slurm.conf yet): a temporary policy-rc.d, only if none exists
    local own_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# temporary, from lif-tempering local-cluster.sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        own_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    if ! apt-get update >"$LOG_DIR/apt.log" 2>&1; then
        show_log_tail "$LOG_DIR/apt.log"
        die "apt-get update failed"
    fi
    if ! apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1; then
        show_log_tail "$LOG_DIR/apt.log"
        die "apt-get install ${missing[*]} failed"
    fi
    if ((own_policy)); then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
    log "installed ${missing[*]}"
}

# ---------------------------------------------------------------- munge
munge_works() {
    [[ -S $MUNGE_SOCKET ]] && munge -n 2>/dev/null | unmunge >/dev/null 2>&1
}

start_munge() {
    local pid
    pid=$(pid_of munged)
    if [[ -n $pid ]] && munge_works; then
        log "munged already running (pid $pid, started by this script)"
        return 0
    fi
    if munge_works; then
        log "a munged not started by this script is already running; using it (stop will leave it alone)"
        return 0
    fi
    getent passwd munge >/dev/null || die "user 'munge' does not exist (munge package broken?)"
    install -d -o munge -g munge -m 0755 "$MUNGE_RUN"
    install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
    if [[ ! -s $MUNGE_KEY ]]; then
        log "creating munge key $MUNGE_KEY"
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile="$MUNGE_KEY" --force
        else
            dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
        fi
    fi
    chown munge:munge "$MUNGE_KEY"
    chmod 0400 "$MUNGE_KEY"
    # munged refuses to start if a stale socket lock/pid is around
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock" "$MUNGE_RUN/munged.pid"
    mkdir -p "$RUN_DIR"
    log "starting munged (as user munge)"
    if ! runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGE_RUN/munged.pid" \
        >"$LOG_DIR/munged.out" 2>&1; then
        cat "$LOG_DIR/munged.out" >&2 || true
        show_log_tail /var/log/munge/munged.log
        die "munged failed to start"
    fi
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -s $MUNGE_RUN/munged.pid ]] && munge_works && break
        sleep 0.1
    done
    munge_works || { show_log_tail /var/log/munge/munged.log; die "munged started but 'munge -n | unmunge' fails"; }
    # record it as ours
    cp "$MUNGE_RUN/munged.pid" "$RUN_DIR/munged.pid"
    [[ -n $(pid_of munged) ]] || die "munged pid file $MUNGE_RUN/munged.pid does not name a munged process"
    log "munged up (pid $(pid_of munged))"
}

# ---------------------------------------------------------------- slurm.conf
write_conf() {
    local host hw cpus mem boards sockets cores threads defmem
    host=$(hostname -s)
    [[ -n $host ]] || die "empty hostname"
    hw=$(slurmd -C 2>/dev/null | head -n 1) || true
    [[ $hw == NodeName=* ]] || die "'slurmd -C' gave no node description: '$hw'"
    getkv() { sed -n "s/.*\\b$1=\\([0-9]\\+\\).*/\\1/p" <<<"$hw"; }
    cpus=$(getkv CPUs); mem=$(getkv RealMemory); boards=$(getkv Boards)
    sockets=$(getkv SocketsPerBoard); cores=$(getkv CoresPerSocket); threads=$(getkv ThreadsPerCore)
    [[ -n $cpus && -n $mem ]] || die "could not parse CPUs/RealMemory from 'slurmd -C': $hw"
    ((mem > 0)) || die "slurmd -C reports RealMemory=$mem"
    # default memory for jobs that do not ask (otherwise a job gets the whole node)
    defmem=$((mem / cpus))
    ((defmem > 1024)) && defmem=1024
    local topo=""
    [[ -n $boards && -n $sockets && -n $cores && -n $threads ]] &&
        topo="Boards=$boards SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads"
    mkdir -p "$STATE_DIR/ctld" "$STATE_DIR/spool" "$RUN_DIR" "$LOG_DIR"
    cat >"$CONF.tmp" <<EOF
# $CONF_TAG -- throwaway single-node CI cluster.
ClusterName=liftempering
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
MailProg=/bin/true
# no cgroups on this machine type
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# no slurmdbd: sacct/sacctmgr do not work -> executor must use squeue
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$defmem
ReturnToService=2
# keep finished jobs visible to squeue well beyond the executor's status-check delay
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# from 'slurmd -C': $hw
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus $topo RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
    link_etc_conf
    log "wrote $CONF, linked from $ETC_CONF (node $host: CPUs=$cpus RealMemory=${mem}MB)"
}

# is $ETC_CONF absent, or ours (our link, or a file carrying our tag)?
etc_conf_is_ours() {
    [[ ! -e $ETC_CONF && ! -L $ETC_CONF ]] && return 0
    [[ -L $ETC_CONF && $(readlink "$ETC_CONF") == "$CONF" ]] && return 0
    [[ -L $ETC_CONF && ! -e $ETC_CONF ]] && return 0 # dangling link
    grep -qF "$CONF_TAG" "$ETC_CONF" 2>/dev/null
}

link_etc_conf() {
    etc_conf_is_ours ||
        die "$ETC_CONF exists and was not written by this script; move it away first (it is never overwritten)"
    mkdir -p "$(dirname "$ETC_CONF")"
    ln -sfn "$CONF" "$ETC_CONF"
}

# ---------------------------------------------------------------- slurm daemons
node_state() { sinfo -h -N -o '%T' 2>/dev/null | head -n 1; }

start_slurm_daemon() {
    local name=$1 pid
    shift
    pid=$(pid_of "$name")
    if [[ -n $pid ]]; then
        log "$name already running (pid $pid)"
        return 0
    fi
    log "starting $name"
    if ! "/usr/sbin/$name" "$@" >"$LOG_DIR/$name.out" 2>&1; then
        cat "$LOG_DIR/$name.out" >&2 || true
        show_log_tail "$LOG_DIR/$name.log"
        die "$name failed to start"
    fi
    if ! wait_pidfile "$name" 20; then
        cat "$LOG_DIR/$name.out" >&2 || true
        show_log_tail "$LOG_DIR/$name.log"
        die "$name did not come up (no live pid in $RUN_DIR/$name.pid)"
    fi
    log "$name up (pid $(pid_of "$name"))"
}

wait_node_ready() {
    # $1: space-separated list of acceptable states
    local ok=" $1 " st="" i
    for ((i = 0; i < TIMEOUT * 2; i++)); do
        st=$(node_state || true)
        [[ -n $st && $ok == *" $st "* ]] && { log "node state: $st"; return 0; }
        sleep 0.5
    done
    show_log_tail "$LOG_DIR/slurmctld.log"
    show_log_tail "$LOG_DIR/slurmd.log"
    die "node not ready after ${TIMEOUT}s (state: '${st:-no answer from sinfo}')"
}

smoke_test() {
    local out jobid state
    log "smoke test: srun"
    if ! out=$(timeout "$TIMEOUT" srun -N1 -n1 -t 1 --mem=10 -J lif-smoke-srun echo srun-ok 2>&1); then
        printf '%s\n' "$out" >&2
        die "smoke test: srun failed"
    fi
    [[ $out == *srun-ok* ]] || die "smoke test: srun gave unexpected output: $out"
    log "smoke test: sbatch --wrap"
    if ! jobid=$(sbatch --parsable -t 1 --mem=10 -J lif-smoke-sbatch -o /dev/null --wrap true 2>&1); then
        die "smoke test: sbatch failed: $jobid"
    fi
    jobid=${jobid%%;*}
    local i
    for ((i = 0; i < TIMEOUT * 2; i++)); do
        state=$(squeue -h -j "$jobid" --states=all -o '%T' 2>/dev/null || true)
        case $state in
            COMPLETED) log "smoke test: sbatch job $jobid COMPLETED"; return 0 ;;
            FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
                die "smoke test: sbatch job $jobid ended $state" ;;
        esac
        sleep 0.5
    done
    die "smoke test: sbatch job $jobid not COMPLETED after ${TIMEOUT}s (state: '${state}')"
}

cmd_start() {
    local t0=$SECONDS
    [[ $(id -u) == 0 ]] || die "must run as root (daemons run as root/munge)"
    mkdir -p "$STATE_DIR" "$RUN_DIR" "$LOG_DIR"
    etc_conf_is_ours ||
        die "$ETC_CONF exists and was not written by this script; move it away first (it is never overwritten)"
    install_packages
    export SLURM_CONF="$CONF"
    start_munge

    local ctld slurmd fresh=0
    ctld=$(pid_of slurmctld)
    slurmd=$(pid_of slurmd)
    if [[ -z $ctld && -z $slurmd ]]; then
        # nothing of ours runs: (re)write the config and start from clean state
        write_conf
        fresh=1
    elif [[ ! -f $CONF ]]; then
        die "slurm daemons from pid files in $RUN_DIR run, but $CONF is missing; run 'stop' first"
    else
        link_etc_conf
    fi
    if ((fresh)); then
        rm -rf "${STATE_DIR:?}/ctld/"* 2>/dev/null || true
        start_slurm_daemon slurmctld -c
    else
        start_slurm_daemon slurmctld
    fi
    start_slurm_daemon slurmd

    if ((fresh)) || [[ -z $slurmd || -z $ctld ]]; then
        wait_node_ready "idle"
        smoke_test
    else
        # already running: may be busy with jobs of the caller; do not submit more
        wait_node_ready "idle mixed allocated completing"
    fi
    log "cluster ready in $((SECONDS - t0)) s; partition '$PARTITION'. The caller must run:"
    log "  $(export_line)"
    export_line
}

# ---------------------------------------------------------------- stop
stop_daemon() {
    local name=$1 pid i
    pid=$(pid_of "$name")
    if [[ -z $pid ]]; then
        log "$name: not running (no live pid file of ours)"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        is_alive_as "$pid" "$name" || break
        sleep 0.1
    done
    if is_alive_as "$pid" "$name"; then
        log "$name (pid $pid) ignored SIGTERM for 30 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            is_alive_as "$pid" "$name" || break
            sleep 0.1
        done
    fi
    is_alive_as "$pid" "$name" && die "$name (pid $pid) is still alive"
    # it has exited; give PID 1 a moment to reap the zombie (cosmetic: pgrep)
    for ((i = 0; i < 100; i++)); do
        [[ -e /proc/$pid ]] || break
        sleep 0.1
    done
    rm -f "$RUN_DIR/$name.pid"
    [[ $name == munged ]] && rm -f "$MUNGE_RUN/munged.pid"
    return 0
}

cmd_stop() {
    export SLURM_CONF="$CONF"
    if [[ -n $(pid_of slurmctld) && -f $CONF ]]; then
        # cancel leftover jobs so that no slurmstepd outlives slurmd
        local jobs i
        jobs=$(squeue -h -o '%i' 2>/dev/null || true)
        if [[ -n $jobs ]]; then
            log "cancelling leftover jobs: ${jobs//$'\n'/ }"
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            for ((i = 0; i < 40; i++)); do
                [[ -z $(squeue -h -t running,completing,pending -o '%i' 2>/dev/null || true) ]] && break
                sleep 0.5
            done
        fi
    fi
    stop_daemon slurmd
    stop_daemon slurmctld
    stop_daemon munged
    if [[ -L $ETC_CONF && $(readlink "$ETC_CONF") == "$CONF" ]]; then
        rm -f "$ETC_CONF"
        log "removed link $ETC_CONF"
    fi
    log "stopped (state kept in $STATE_DIR)"
}

# ---------------------------------------------------------------- status
cmd_status() {
    export SLURM_CONF="$CONF"
    local rc=0 name pid
    for name in munged slurmctld slurmd; do
        pid=$(pid_of "$name")
        if [[ -n $pid ]]; then
            echo "$name: running (pid $pid)"
        elif [[ $name == munged ]] && munge_works; then
            echo "$name: running (not started by this script)"
        else
            echo "$name: not running"
            rc=3
        fi
    done
    if [[ -L $ETC_CONF ]]; then
        echo "config: $ETC_CONF -> $(readlink "$ETC_CONF")"
    elif [[ -e $ETC_CONF ]]; then
        echo "config: $ETC_CONF (not a link to $CONF)"
    else
        echo "config: $ETC_CONF missing (cluster not started)"
    fi
    if [[ -n $(pid_of slurmctld) && -f $CONF ]]; then
        echo "--- sinfo"
        sinfo -N -l 2>&1 || rc=3
        echo "--- squeue"
        squeue --states=all 2>&1 || true
    fi
    return $rc
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) export_line ;;
    *)
        echo "usage: $0 start|stop|status|env" >&2
        exit 2
        ;;
esac
