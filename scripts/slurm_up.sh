#!/usr/bin/env bash
# Bring up a one-node SLURM cluster on this (Debian) machine for the executor tests: munge key, a
# slurm.conf with cons_tres and this node's CPUs and memory, slurmctld + slurmd. Needs root and the
# Debian packages slurmctld slurmd slurm-client munge (installed when apt-get is available).
# Prints "slurm up" and exits 0 when `sinfo` answers; exit 77 when SLURM cannot be installed here.
set -uo pipefail
if ! command -v slurmctld >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq slurmctld slurmd slurm-client munge) >/dev/null 2>&1 || exit 77
  else
    echo "no SLURM and no apt-get as root: skipped"; exit 77
  fi
fi
host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
mkdir -p /etc/munge /var/log/munge /run/munge /var/lib/munge /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chown -R munge:munge /etc/munge /var/log/munge /run/munge /var/lib/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
pgrep -x munged >/dev/null || runuser -u munge -- munged --force 2>/dev/null || munged --force
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=codecbench
SlurmctldHost=${host}
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ReturnToService=2
# a test cluster: cancelled or timed-out jobs get SIGKILL 1 s after SIGTERM (the default waits 30 s)
KillWait=1
MpiDefault=none
NodeName=${host} CPUs=${cpus} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF
pkill -x slurmctld 2>/dev/null; pkill -x slurmd 2>/dev/null; sleep 1
slurmctld -c >/dev/null 2>&1 || slurmctld
slurmd
for _ in $(seq 1 30); do
  if sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mix|alloc'; then echo "slurm up: $(sinfo -h -o '%P %D %T %c')"; exit 0; fi
  sleep 1
done
echo "slurm did not come up"; sinfo; tail -5 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log; exit 1
