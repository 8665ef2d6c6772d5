"""One rank of the lost-peer tests: trains with allreduces until the last rank SIGKILLs
itself, then every survivor must raise tf.errors.UnavailableError within a few seconds.
Writes its pid (and a child's, to check the launcher leaves nothing behind) to $KILL_TEST_DIR."""
import os
import signal
import subprocess
import sys
import time

import tensorflow as tf

import collective.tensorflow as ct


def main():
    ct.init()
    n, r = ct.size(), ct.rank()
    out = os.environ["KILL_TEST_DIR"]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "pids.%d" % r), "w") as f:
        f.write("%d %d\n" % (os.getpid(), child.pid))
    w = tf.Variable(tf.ones([1000]))

    @tf.function
    def step():
        w.assign_sub(0.01 * ct.allreduce(w * 2.0, op=ct.Average))
    for i in range(5):
        step()
    if r == n - 1:
        os.kill(os.getpid(), signal.SIGKILL)
    start = time.monotonic()
    try:
        while time.monotonic() - start < 120:
            step()
    except tf.errors.UnavailableError as e:
        took = time.monotonic() - start
        print("kill_worker: rank %d raised UnavailableError after %.2f s: %s" % (r, took, e.message))
        child.kill()
        sys.exit(3 if took < 10 else 4)
    print("kill_worker: rank %d saw no error" % r)
    child.kill()
    sys.exit(5)


if __name__ == "__main__":
    main()
