#!/bin/bash
# Installs the build into a temporary prefix, builds examples/ against it with
# find_package(collective) and with pkg-config, and runs the trainer with 2 ranks.
# Usage: install_test.sh <build dir> <source dir> <work dir> <free_port binary> <C compiler>
set -euo pipefail
build=$1 src=$2 work=$3 free_port=$4 cc=$5

rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" > "$work/install.log"
libdir=$(dirname "$(find "$prefix" -name 'libcollective.so' | head -n 1)")
[ -d "$libdir" ] || { echo "libcollective.so was not installed"; exit 1; }

echo "== find_package(collective) build of examples/"
cmake -S "$src/examples" -B "$work/examples" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" > "$work/configure.log"
cmake --build "$work/examples" > "$work/build.log"

echo "== pkg-config build of examples/trainer.c"
flags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs collective)
echo "pkg-config: $flags"
"$cc" -std=c99 -Wall -Wextra -Werror "$src/examples/trainer.c" $flags -o "$work/trainer_pc"

run_two_ranks() {
  local binary=$1 port
  port=$("$free_port")
  export COLL_SIZE=2 COLL_ROOT_ADDR=127.0.0.1:$port COLL_TRANSPORT=tcp COLL_TIMEOUT_MS=20000
  LD_LIBRARY_PATH=$libdir COLL_RANK=1 timeout 60 "$binary" > "$work/rank1.log" 2>&1 &
  local pid1=$!
  local rc0=0 rc1=0
  LD_LIBRARY_PATH=$libdir COLL_RANK=0 timeout 60 "$binary" || rc0=$?
  wait "$pid1" || rc1=$?
  cat "$work/rank1.log"
  echo "rank 0 exit $rc0, rank 1 exit $rc1"
  [ "$rc0" -eq 0 ] && [ "$rc1" -eq 0 ]
}

echo "== trainer (find_package build), 2 ranks"
run_two_ranks "$work/examples/trainer"
echo "== trainer (pkg-config build), 2 ranks"
run_two_ranks "$work/trainer_pc"
echo "install test passed"
