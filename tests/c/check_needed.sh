#!/bin/bash
# libcollective must load on machines without a GPU, a CUDA driver, NCCL or an RDMA stack:
# none of libcuda, libcudart, libnccl, libibverbs may be a NEEDED entry (they are dlopened or
# linked statically), and no cu*/cuda*/nccl* symbol may be left undefined.
# Usage: check_needed.sh <path to libcollective.so> [cuda]   ("cuda": the build has CUDA, so
# the static CUDA runtime must be inside the library)
set -euo pipefail
lib=$1
status=0
[ -f "$lib" ] || { echo "no such library: $lib"; exit 1; }
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "NEEDED: $(echo $needed)"
bad=$(echo "$needed" | grep -E '^lib(cuda|cudart|nccl|ibverbs|mlx5)\.' || true)
if [ -n "$bad" ]; then
  echo "hard dependencies that must be loaded at run time instead: $(echo $bad)"
  status=1
fi
undef=$(nm -D --undefined-only "$lib" | awk '{print $NF}' | grep -E '^(cu[A-Z]|cuda|nccl)' || true)
if [ -n "$undef" ]; then
  echo "undefined CUDA / NCCL symbols: $(echo $undef | head -c 400)"
  status=1
fi
if [ "${2:-}" = cuda ] && [ "$(nm "$lib" | grep -cE ' [tT] cudaGetErrorString$')" = 0 ]; then
  echo "a CUDA build, but the static CUDA runtime (cudaGetErrorString) is not in the library"
  status=1
fi
[ "$status" -eq 0 ] && echo "dependencies ok"
exit "$status"
