# Booting rxe VMs, sourced by tests/rxe/run and tests/rxe/run-two-vms (after image.sh).

# Whether this machine can run the VM; prints why not and returns 1 when it cannot.
# Installs qemu, kmod (depmod) and cpio through apt when they are missing and we are root.
rxe_can_run() {
  if [[ "${COLL_RXE:-auto}" == 0 ]]; then
    echo "COLL_RXE=0"
    return 1
  fi
  if [[ "$(uname -m)" != x86_64 ]]; then
    echo "not an x86_64 machine"
    return 1
  fi
  if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    echo "no apt-get/dpkg-deb: the image is built from Debian packages"
    return 1
  fi
  local missing=()
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  command -v depmod >/dev/null || missing+=(kmod)
  command -v cpio >/dev/null || missing+=(cpio)
  if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      echo "${missing[*]} not installed and not root to install them"
      return 1
    fi
    rxe_log "installing ${missing[*]}"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
             --no-install-recommends "${missing[@]}"; } >/dev/null 2>&1; then
      echo "apt-get could not install ${missing[*]}"
      return 1
    fi
  fi
  local root avail_kb
  root=$(rxe_cache_root)
  mkdir -p "$root"
  avail_kb=$(df -Pk "$root" | awk 'NR == 2 {print $4}')
  if [[ ! -f "$root/$(rxe_image_key)/initrd.cpio" ]] && ((avail_kb < 2 * 1024 * 1024)); then
    echo "less than 2 GiB free under $root to build the image"
    return 1
  fi
  local mem_kb
  mem_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
  if ((mem_kb < 5 * 1024 * 1024)); then
    echo "less than 5 GiB of memory available for a 4 GiB VM"
    return 1
  fi
  return 0
}

RXE_QEMU_PIDS=()
rxe_kill_vms() {
  local pid
  for pid in "${RXE_QEMU_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  RXE_QEMU_PIDS=()
}

# rxe_boot IMAGE_DIR SHARE JOB IP LOG NETDEV_ARGS...: starts one VM in the background (its
# console goes to LOG), its pid appended to RXE_QEMU_PIDS. The VM mounts SHARE at the same
# path and runs JOB (a path inside SHARE), then ends; rxe_wait_vms bounds it.
rxe_boot() {
  local image=$1 share=$2 job=$3 ip=$4 log=$5
  shift 5
  qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu max -smp 2 -m 4G -nographic -no-reboot \
    -monitor none -serial stdio \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.cpio" \
    -append "console=ttyS0 panic=1 rxe_share=$share rxe_ip=$ip rxe_job=$job" \
    -virtfs "local,path=$image/root,mount_tag=root,security_model=none,readonly=on,id=root" \
    -virtfs "local,path=$share,mount_tag=share,security_model=none,id=share" \
    "$@" </dev/null >"$log" 2>&1 &
  RXE_QEMU_PIDS+=($!)
}

# Waits until every VM has ended or DEADLINE_S seconds have passed (then kills them all);
# returns 1 on the deadline.
rxe_wait_vms() {
  local deadline=$((SECONDS + $1)) pid alive
  while :; do
    alive=0
    for pid in "${RXE_QEMU_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    if ((SECONDS >= deadline)); then
      rxe_kill_vms
      return 1
    fi
    sleep 0.5
  done
  for pid in "${RXE_QEMU_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  RXE_QEMU_PIDS=()
}

# The job's exit status from a VM's console log ("" when the VM never reported one).
rxe_job_status() {
  sed -n 's/^rxe-job-exit=\([0-9]*\).*/\1/p' "$1" | tail -1
}
