"""Launches N local ranks of a command: python -m collective.run -np N cmd [args...]

Each rank gets COLL_RANK, COLL_SIZE, COLL_ROOT_ADDR=127.0.0.1:<free port> and a fresh random
COLL_JOB_TOKEN (unless one is set), and its output lines prefixed with "[rank]". When a rank fails, the others are stopped (SIGTERM, then SIGKILL
after COLL_RUN_KILL_GRACE_S, default 3) and the launcher exits with the first failure's code
(128+signal for a signal). SIGINT and SIGTERM are forwarded to every rank. Each rank runs in its
own process group, and the whole group is ended, so no process is left behind.
"""
import argparse
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pump(rank, stream, out, lock):
    prefix = ("[%d] " % rank).encode()
    for line in iter(stream.readline, b""):
        with lock:
            out.write(prefix + line if line.endswith(b"\n") else prefix + line + b"\n")
            out.flush()
    stream.close()


def exit_code(rc):
    return 128 - rc if rc < 0 else rc


def signal_groups(procs, sig):
    for p in procs:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m collective.run",
                                     description="Run N local ranks of a libcollective job.")
    parser.add_argument("-np", "--num-proc", type=int, required=True, help="number of ranks")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="command and its arguments")
    args = parser.parse_args(argv)
    if args.num_proc < 1 or not args.command:
        parser.error("need -np N (N >= 1) and a command")
    grace = float(os.environ.get("COLL_RUN_KILL_GRACE_S", "3"))
    root = "127.0.0.1:%d" % free_port()
    # One token per job: another job that lands on the same port can never join this one.
    token = os.environ.get("COLL_JOB_TOKEN") or secrets.token_hex(16)
    out = sys.stdout.buffer
    lock = threading.Lock()
    procs, pumps = [], []
    signaled = set()  # pids a forwarded signal has reached
    interrupted = []

    def forward(sig, _frame):
        interrupted.append(sig)
        signal_groups(procs, sig)
        signaled.update(p.pid for p in procs)

    # Installed before the first rank starts: a signal that comes while ranks are still being
    # started reaches the ones started, and no more are.
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    for rank in range(args.num_proc):
        if interrupted:
            break
        env = dict(os.environ, COLL_RANK=str(rank), COLL_SIZE=str(args.num_proc),
                   COLL_ROOT_ADDR=root, COLL_JOB_TOKEN=token, PYTHONUNBUFFERED="1")
        p = subprocess.Popen(args.command, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(p)
        if interrupted and p.pid not in signaled:  # came between Popen and the append
            signal_groups([p], interrupted[0])
            signaled.add(p.pid)
        t = threading.Thread(target=pump, args=(rank, p.stdout, out, lock), daemon=True)
        t.start()
        pumps.append(t)

    exits = queue.Queue()  # (rank, returncode) in the order the ranks ended
    for rank, p in enumerate(procs):
        threading.Thread(target=lambda r=rank, p=p: exits.put((r, p.wait())), daemon=True).start()

    first_failure = None
    deadline = None
    remaining = len(procs)
    while remaining:
        try:
            rank, rc = exits.get(timeout=0.05)
        except queue.Empty:
            if deadline is not None and time.monotonic() > deadline:
                signal_groups(procs, signal.SIGKILL)
                deadline = None
            continue
        remaining -= 1
        if rc != 0 and first_failure is None:
            first_failure = rc
            with lock:
                out.write(b"collective.run: rank %d exited with %d; stopping the others\n"
                          % (rank, exit_code(rc)))
                out.flush()
            if not interrupted:  # after a forwarded signal every rank is already ending
                signal_groups(procs, signal.SIGTERM)
            deadline = time.monotonic() + grace
    # Descendants a rank left in its group go too.
    signal_groups(procs, signal.SIGKILL)
    for t in pumps:
        t.join(timeout=5)
    if first_failure is not None:
        return exit_code(first_failure)
    if interrupted:
        return 128 + interrupted[0]
    return 0


if __name__ == "__main__":
    sys.exit(main())
