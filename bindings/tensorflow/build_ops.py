"""Builds the TensorFlow op library against the TensorFlow this Python imports.

Used by the repository's setup.py (pip install) and runnable alone:
    python bindings/tensorflow/build_ops.py OUT_DIR
It compiles bindings/tensorflow/cc/*.cc with TF's own flags (TF's headers as system includes,
so -Werror applies to our code only), links libcollective.so from the CMake build directory
(COLL_BUILD_DIR, default build/; built with CMake when missing), and copies that library beside
the op so the package finds it through the op's $ORIGIN rpath.
"""
import glob
import os
import shutil
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SONAME = "libcollective.so.0"


def libcollective(build_dir):
    lib = os.path.join(build_dir, SONAME)
    if not os.path.exists(lib):
        subprocess.check_call(["cmake", "-S", REPO, "-B", build_dir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"])
        subprocess.check_call(["cmake", "--build", build_dir, "--target", "collective",
                               "-j%d" % (os.cpu_count() or 1)])
    return os.path.realpath(lib)


def tf_flags():
    try:
        import tensorflow as tf
    except ImportError as e:
        sys.exit("collective.tensorflow: building the op needs TensorFlow importable by %s (%s); "
                 "with pip use --no-build-isolation so the build sees the installed TensorFlow"
                 % (sys.executable, e))
    compile_flags = []
    for f in tf.sysconfig.get_compile_flags():
        compile_flags.append("-isystem" + f[2:] if f.startswith("-I") else f)
    return compile_flags, tf.sysconfig.get_link_flags()


def build(out_dir, build_dir=None):
    build_dir = os.path.abspath(build_dir or os.environ.get("COLL_BUILD_DIR")
                                or os.path.join(REPO, "build"))
    lib = libcollective(build_dir)
    os.makedirs(out_dir, exist_ok=True)
    shutil.copyfile(lib, os.path.join(out_dir, SONAME))
    compile_flags, link_flags = tf_flags()
    cxx = os.environ.get("CXX", "g++").split()
    if shutil.which("ccache") and "ccache" not in cxx[0]:
        cxx = ["ccache"] + cxx
    sources = sorted(glob.glob(os.path.join(REPO, "bindings", "tensorflow", "cc", "*.cc")))
    objects = []
    for src in sources:
        obj = os.path.join(out_dir, os.path.basename(src) + ".o")
        cmd = cxx + ["-std=c++17", "-O2", "-g0", "-fPIC", "-Wall", "-Wextra", "-Werror",
                     "-fvisibility=hidden", "-I" + os.path.join(REPO, "include")] + compile_flags + [
                         "-c", src, "-o", obj]
        subprocess.check_call(cmd)
        objects.append(obj)
    target = os.path.join(out_dir, "_collective_ops.so")
    subprocess.check_call(cxx + ["-shared", "-o", target] + objects + link_flags + [
        os.path.join(out_dir, SONAME), "-Wl,-rpath,$ORIGIN", "-Wl,--no-undefined"])
    for obj in objects:
        os.remove(obj)
    return target


if __name__ == "__main__":
    print(build(sys.argv[1] if len(sys.argv) > 1 else "."))
