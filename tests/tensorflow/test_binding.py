"""The TensorFlow binding's tests: real TensorFlow, 2-4 local ranks through collective.run (or
spawned here), every job bounded by a timeout and its process group ended. Run with the
environment's Python, where collective.tensorflow is installed (scripts/test-tf)."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable


def launch(np_, args, timeout, env=None):
    """python -m collective.run -np N python args...; returns (rc, output)."""
    cmd = [PY, "-m", "collective.run", "-np", str(np_), PY] + args
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=dict(os.environ, **(env or {})), start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        raise AssertionError("timed out after %d s:\n%s" % (timeout, out.decode(errors="replace")))
    return p.returncode, out.decode(errors="replace")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose (its parent has not reaped it yet).
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ops(unittest.TestCase):
    def test_ops_on_3_ranks(self):
        rc, out = launch(3, [os.path.join(HERE, "ops_worker.py")], 400,
                         {"COLL_TF_STALL_WARN_S": "2"})
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.count("ops_worker: all checks passed"), 3, out)
        self.assertRegex(out, r"\[0\] collective.tensorflow WARNING: .*submitted on ranks 0, 1 "
                              r"have waited up to \d+ s for rank 2: 'stall' \(allreduce\(sum\) of float32\[2\]\)")
        print("\n".join(l for l in out.splitlines() if "fusion:" in l))


class NoFusion(unittest.TestCase):
    def test_fusion_bytes_0(self):
        rc, out = launch(2, [os.path.join(HERE, "fusion_worker.py")], 300,
                         {"COLL_TF_FUSION_BYTES": "0"})
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.count("fusion_worker: all checks passed"), 2, out)
        print(next(l for l in out.splitlines() if "no fusion:" in l))


class DataParallel(unittest.TestCase):
    def run_dp(self, n):
        rc, out = launch(n, [os.path.join(HERE, "dp_worker.py")], 400)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.count("dp_worker: all checks passed"), n, out)
        print("\n".join(l for l in out.splitlines() if "dp_worker: %d ranks" % n in l))

    def test_2_ranks(self):
        self.run_dp(2)

    def test_4_ranks(self):
        self.run_dp(4)


class PeerLost(unittest.TestCase):
    def test_survivors_raise_unavailable(self):
        n = 3
        with tempfile.TemporaryDirectory() as d:
            root = "127.0.0.1:%d" % free_port()
            procs = [subprocess.Popen(
                [PY, os.path.join(HERE, "kill_worker.py")], stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, start_new_session=True,
                env=dict(os.environ, COLL_RANK=str(r), COLL_SIZE=str(n), COLL_ROOT_ADDR=root,
                         KILL_TEST_DIR=d)) for r in range(n)]
            outs = []
            try:
                for p in procs:
                    outs.append(p.communicate(timeout=240)[0].decode(errors="replace"))
            finally:
                for p in procs:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            self.assertEqual(procs[n - 1].returncode, -signal.SIGKILL, outs[n - 1])
            for r in range(n - 1):
                self.assertEqual(procs[r].returncode, 3, outs[r])  # raised within 10 s
                self.assertRegex(outs[r], r"(?s)raised UnavailableError after .*\(tensor '")
                print(next(l for l in outs[r].splitlines() if "kill_worker:" in l)[:120])

    def test_launcher_ends_everything(self):
        with tempfile.TemporaryDirectory() as d:
            start = time.monotonic()
            rc, out = launch(3, [os.path.join(HERE, "kill_worker.py")], 240, {"KILL_TEST_DIR": d})
            self.assertEqual(rc, 128 + signal.SIGKILL, out)
            self.assertIn("collective.run: rank 2 exited with 137; stopping the others", out)
            pids = []
            for r in range(3):
                with open(os.path.join(d, "pids.%d" % r)) as f:
                    pids += [int(x) for x in f.read().split()]
            self.assertEqual([p for p in pids if alive(p)], [], out)
            print("launcher: exit %d after %.1f s, none of %d processes left" %
                  (rc, time.monotonic() - start, len(pids)))


class OneRank(unittest.TestCase):
    SCRIPT = ("import tensorflow as tf, collective.tensorflow as ct\n"
              "try:\n    ct.init()\n"
              "except RuntimeError as e:\n    print('init error:', e); raise SystemExit(2)\n"
              "print('sizes', ct.rank(), ct.size(), ct.local_rank(), ct.local_size())\n"
              "print('sum', ct.allreduce(tf.constant([1.5, 2.0]), op=ct.Sum).numpy().tolist())\n"
              "print('gather', ct.allgather(tf.ones([3, 2])).shape.as_list())\n")

    def run_one(self, **env):
        env = dict(os.environ, COLL_RANK="0", COLL_SIZE="1",
                   COLL_ROOT_ADDR="127.0.0.1:%d" % free_port(), **env)
        p = subprocess.run([PY, "-c", self.SCRIPT], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        return p.returncode, p.stdout.decode(errors="replace")

    def test_one_rank_and_bad_settings(self):
        rc, out = self.run_one()
        self.assertEqual(rc, 0, out)
        self.assertIn("sizes 0 1 0 1", out)
        self.assertIn("sum [1.5, 2.0]", out)
        self.assertIn("gather [3, 2]", out)
        rc, out = self.run_one(COLL_TF_CYCLE_MS="soon")
        self.assertEqual(rc, 2, out)
        self.assertIn("init error: collective.tensorflow.init failed (invalid argument): "
                      "collective.tensorflow init: COLL_TF_CYCLE_MS='soon' is not a number", out)


class Launcher(unittest.TestCase):
    def test_first_failure_code_and_prefixes(self):
        script = ("import os, sys, time\n"
                  "r = int(os.environ['COLL_RANK'])\n"
                  "print('hello from', r, os.environ['COLL_SIZE'], os.environ['COLL_ROOT_ADDR'],\n"
                  "      os.environ['COLL_JOB_TOKEN'])\n"
                  "sys.stdout.flush()\n"
                  "time.sleep(0.5)\n"
                  "sys.exit(7) if r == 1 else time.sleep(60)\n")
        start = time.monotonic()
        rc, out = launch(2, ["-c", script], 30)
        self.assertEqual(rc, 7, out)
        self.assertLess(time.monotonic() - start, 20)
        tokens = re.findall(r"\[(\d)\] hello from \1 2 127\.0\.0\.1:\d+ ([0-9a-f]{32})\n", out)
        self.assertEqual(sorted(r for r, _ in tokens), ["0", "1"], out)
        self.assertEqual(tokens[0][1], tokens[1][1], out)  # one job, one token

    def test_sigint_is_forwarded(self):
        script = ("import os, sys, time\n"
                  "try:\n    print('ready', flush=True)\n    time.sleep(60)\n"
                  "except KeyboardInterrupt:\n    print('interrupted', flush=True); sys.exit(130)\n")
        p = subprocess.Popen([PY, "-m", "collective.run", "-np", "2", PY, "-c", script],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            seen = 0
            while seen < 2:
                line = p.stdout.readline().decode()
                self.assertTrue(line, "launcher ended early")
                seen += "ready" in line
            p.send_signal(signal.SIGINT)
            out = p.communicate(timeout=30)[0].decode()
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.assertEqual(p.returncode, 130, out)
        self.assertIn("[0] interrupted", out)
        self.assertIn("[1] interrupted", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
