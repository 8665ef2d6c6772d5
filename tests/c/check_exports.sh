#!/bin/bash
# The shared library exports only the C API (coll_*, plus the linker's own _init / _fini /
# _edata / _end / __bss_start) and needs neither libibverbs nor MPI symbols at link time.
# Usage: check_exports.sh <path to libcollective.so>
set -euo pipefail
lib=$1
status=0
[ -f "$lib" ] || { echo "no such library: $lib"; exit 1; }

extra=$(nm -D --defined-only "$lib" | awk '{print $NF}' |
  grep -Ev '^(coll_[A-Za-z0-9_]+|_init|_fini|_edata|_end|__bss_start)$' || true)
if [ -n "$extra" ]; then
  echo "exported symbols outside the coll_* API ($(echo "$extra" | wc -l)):"
  echo "$extra" | head -n 40
  status=1
fi

api=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep -c '^coll_' || true)
if [ "$api" -eq 0 ]; then
  echo "no coll_* symbols exported"
  status=1
fi

bad=$(nm -D --undefined-only "$lib" | awk '{print $NF}' | grep -E '^(ibv_|MPI_|PMPI_|ompi_)' || true)
if [ -n "$bad" ]; then
  echo "undefined ibverbs / MPI symbols (must be dlopened or absent):"
  echo "$bad"
  status=1
fi

[ "$status" -eq 0 ] && echo "exports ok: $api coll_* symbols"
exit "$status"
