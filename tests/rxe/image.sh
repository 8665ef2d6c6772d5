# The rxe VM image, sourced by tests/rxe/run and tests/rxe/run-two-vms.
#
# Built from Debian packages only: the newest linux-image-6.1.*-amd64-unsigned kernel; a tiny
# initramfs (busybox-static, and the kernel's virtio, 9p, overlay, rdma_rxe and ib_uverbs
# modules with what they depend on) whose /init mounts the root read-only over 9p under a
# tmpfs overlay and chroots into it; and
# that root, a folder made by unpacking the dependency closure of the packages below (no
# package scripts run; its /rxe-init is tests/rxe/init). A 190 MB initramfs took 30 s to
# unpack under emulation; the 9p root costs only what the guest reads. The image is cached
# under $(rxe_cache_root)/<hash of this file and tests/rxe/init>, rebuilt when either changes.

RXE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# What the guest runs: a shell, the verbs stack (rdma-core, the rxe provider in
# ibverbs-providers, ibv_rc_pingpong in ibverbs-utils), `ip` and `rdma` (iproute2), modprobe
# (kmod), and the test binaries' run-time libraries (libstdc++, hwloc, libcrypto, OpenMPI).
RXE_PACKAGES=(bash coreutils grep sed util-linux mount libc-bin procps kmod iproute2 rdma-core ibverbs-providers
              libibverbs1 ibverbs-utils libhwloc15 openmpi-bin libssl3 libstdc++6)
RXE_KERNEL_PATTERN='^linux-image-6\.1\.[0-9.-]*-amd64-unsigned$'
RXE_MODULES=(virtio_pci virtio_net 9pnet_virtio 9p overlay crc32_generic rdma_rxe ib_uverbs)

rxe_log() { echo "[rxe $(date -u +%H:%M:%S)] $*" >&2; }

rxe_cache_root() {
  if [[ -n "${COLL_RXE_CACHE:-}" ]]; then
    echo "$COLL_RXE_CACHE"
  elif mkdir -p /var/cache/libcollective-rxe 2>/dev/null && [[ -w /var/cache/libcollective-rxe ]]; then
    echo /var/cache/libcollective-rxe
  else
    echo "$RXE_DIR/../../build/rxe-cache"
  fi
}

rxe_image_key() {
  cat "$RXE_DIR/image.sh" "$RXE_DIR/init" | sha256sum | cut -c1-16
}

# Prints the image directory (vmlinuz, initrd.cpio, root/, kernel-package), building it if
# absent.
rxe_image() {
  local root key dir
  root=$(rxe_cache_root)
  key=$(rxe_image_key)
  dir="$root/$key"
  if [[ -f "$dir/initrd.cpio" && -f "$dir/vmlinuz" ]]; then
    rxe_log "image $dir (cached)"
    echo "$dir"
    return 0
  fi
  mkdir -p "$root"
  rxe_build_image "$dir.tmp.$$" || { rm -rf "$dir.tmp.$$"; return 1; }
  rm -rf "$dir"
  mv "$dir.tmp.$$" "$dir"
  # Older images (other recipes) are dead weight: keep only this one.
  find "$root" -mindepth 1 -maxdepth 1 -type d ! -name "$key" ! -name debs -exec rm -rf {} +
  echo "$dir"
}

rxe_build_image() {
  local out=$1 t0=$SECONDS
  rm -rf "$out"
  # Downloaded packages stay in $(rxe_cache_root)/debs, so a new recipe fetches only what is new.
  local debs
  debs="$(dirname "$out")/debs"
  mkdir -p "$debs" "$out/root" "$out/kernel"
  local kpkg
  kpkg=$(apt-cache search --names-only "$RXE_KERNEL_PATTERN" | awk '{print $1}' | sort -V | tail -1)
  if [[ -z "$kpkg" ]]; then
    apt-get update -qq >/dev/null
    kpkg=$(apt-cache search --names-only "$RXE_KERNEL_PATTERN" | awk '{print $1}' | sort -V | tail -1)
  fi
  [[ -n "$kpkg" ]] || { rxe_log "no package matches $RXE_KERNEL_PATTERN"; return 1; }
  echo "$kpkg" >"$out/kernel-package"
  rxe_log "building image: $kpkg + closure of ${RXE_PACKAGES[*]}"

  # The root: every package in the dependency closure (alternatives included), unpacked.
  local pkgs
  pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
           --no-replaces --no-enhances "${RXE_PACKAGES[@]}" | grep '^[a-z0-9]' | sort -u)
  # apt-get download --print-uris names each package's file; fetch only those not there yet.
  local files want=() f p
  files=$(apt-get download --print-uris $pkgs "$kpkg" busybox-static | awk '{print $2}')
  for f in $files; do
    [[ -f "$debs/$f" ]] || want+=("${f%%_*}")
  done
  local sandbox=()
  [[ $(id -u) -eq 0 ]] && sandbox=(-o APT::Sandbox::User=root)
  if ((${#want[@]})); then
    (cd "$debs" && apt-get download -qq "${sandbox[@]}" "${want[@]}" >/dev/null) ||
      { rxe_log "apt-get download failed"; return 1; }
  fi
  local r="$out/root"
  mkdir -p "$r/usr/bin" "$r/usr/sbin" "$r/usr/lib" "$r/usr/lib64"
  ln -s usr/bin "$r/bin"; ln -s usr/sbin "$r/sbin"; ln -s usr/lib "$r/lib"; ln -s usr/lib64 "$r/lib64"
  local deb
  for f in $files; do
    [[ "$f" == "${kpkg}_"* || "$f" == busybox-static_* ]] && continue
    dpkg-deb --fsys-tarfile "$debs/$f" | tar -x --keep-directory-symlink -C "$r" \
      --exclude=./usr/share/doc --exclude=./usr/share/man --exclude=./usr/share/locale \
      --exclude=./usr/share/info
  done
  mkdir -p "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/run" "$r/root" "$r/etc"
  echo "root:x:0:0:root:/root:/bin/bash" >"$r/etc/passwd"
  echo "root:x:0:" >"$r/etc/group"
  echo "127.0.0.1 localhost" >"$r/etc/hosts"
  echo rxe >"$r/etc/hostname"
  install -m 0755 "$RXE_DIR/init" "$r/rxe-init"
  # The dynamic loader's cache (ldconfig -r chroots, so only as root; the multiarch library
  # folders are searched without it anyway).
  [[ $(id -u) -eq 0 ]] && ldconfig -r "$r"

  # The kernel; the initramfs: busybox, the modules the guest needs (in load order), /init.
  local i="$out/initramfs"
  mkdir -p "$i/bin" "$i/proc" "$i/r" "$i/t"
  dpkg-deb -x "$debs/$(grep '^busybox-static_' <<<"$files")" "$out/busybox"
  cp "$out/busybox/bin/busybox" "$i/bin/busybox"
  dpkg-deb -x "$debs/$(grep "^${kpkg}_" <<<"$files")" "$out/kernel"
  local kver
  kver=$(ls "$out/kernel/lib/modules")
  cp "$out"/kernel/boot/vmlinuz-"$kver" "$out/vmlinuz"
  depmod -b "$out/kernel" "$kver"
  local m path
  for m in "${RXE_MODULES[@]}"; do
    modprobe -d "$out/kernel" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
  done | awk '!seen[$0]++' | while read -r path; do
    path=${path#"$out/kernel"}
    cp "$out/kernel$path" "$i/"
    echo "${path##*/}" >>"$i/modules"
  done
  cat >"$i/init" <<'STAGE1'
#!/bin/busybox sh
b=/bin/busybox
$b mount -t proc proc /proc
for m in $($b cat /modules); do $b insmod "/$m" || echo "rxe-init: insmod $m failed"; done
# The root: the image's folder (read-only 9p) under a tmpfs overlay, so the guest may write.
$b mount -t tmpfs tmpfs /t && $b mkdir -p /t/lower /t/upper /t/work &&
$b mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro root /t/lower &&
$b mount -t overlay -o lowerdir=/t/lower,upperdir=/t/upper,workdir=/t/work overlay /r ||
  { echo "rxe-init: mounting the root failed"; echo "rxe-job-exit=94"; echo b >/proc/sysrq-trigger; }
$b umount /proc
exec $b chroot /r /rxe-init
STAGE1
  chmod 0755 "$i/init"
  (cd "$i" && find . -print0 | cpio --null -o -H newc --quiet) >"$out/initrd.cpio"
  rm -rf "$out/kernel" "$out/busybox" "$i"
  rxe_log "image built in $((SECONDS - t0)) s: $(du -sh "$out/initrd.cpio" | cut -f1) initramfs, $(du -sh "$r" | cut -f1) root, kernel $kver"
}
