#!/usr/bin/env python3
"""perf/tcp_stream.py: the raw TCP ceiling of an emulated link. Run under
scripts/emulated-hosts with 2 hosts: rank 1 (10.231.0.2) receives 256 MiB from rank 0 on one
plain socket and prints the throughput as a share of a 1 Gbit/s link.

  scripts/emulated-hosts --hosts 2 --rate 1gbit -- python3 perf/tcp_stream.py
"""
import os
import socket
import time

RANK = int(os.environ["OMPI_COMM_WORLD_RANK"])
TOTAL = 256 << 20
ADDR = ("10.231.0.2", 5000)

if RANK == 1:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(ADDR)
    server.listen(1)
    conn, _ = server.accept()
    got, buf, start = 0, bytearray(1 << 20), None
    while got < TOTAL:
        n = conn.recv_into(buf)
        if start is None:
            start = time.time()
        if n == 0:
            break
        got += n
    secs = time.time() - start
    print(f"received {got} bytes in {secs:.3f} s = {got / secs / 1e6:.1f} MB/s = "
          f"{got / secs / 1.25e8 * 100:.1f} % of 1 Gbit/s", flush=True)
elif RANK == 0:
    time.sleep(0.5)
    conn = socket.create_connection(ADDR)
    block = b"x" * (1 << 20)
    for _ in range(TOTAL // len(block)):
        conn.sendall(block)
    conn.close()
