"""Web server under load: N concurrent photo swaps (all must succeed), server peak RSS, p50/p95
latency; then slow clients trickling their headers while a normal client is served.

    .venv/bin/python benchmarks/web_load.py [--swaps 20] [--slow 10] [--slow-seconds 60] [--workers N]

Starts `faceweave web` on a free port (its defaults: 127.0.0.1, workers = CPUs), drives the REST
endpoint /api/swap (same worker gate and limits as the UI), samples the server's RSS (with any
children) every 50 ms, and stops it with SIGTERM.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

ASSETS = Path(__file__).resolve().parents[1] / "tests" / "assets"
PORTRAITS = ["facerec_obama.jpg", "facerec_biden.jpg", "pyfeat_0-f1-su-ph.jpg", "pyfeat_0-f15-hao-ph.jpg",
             "pyfeat_15-f13-anc-ph.jpg", "skimage_astronaut.png", "pyfeat_single_face.jpg"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def multipart(files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    b = uuid.uuid4().hex
    out = io.BytesIO()
    for k, (name, data) in files.items():
        out.write(f'--{b}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n\r\n'.encode())
        out.write(data + b"\r\n")
    out.write(f"--{b}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={b}"


def swap(url: str, src: str, dst: str) -> tuple[int, float]:
    files = {"source": (src, (ASSETS / src).read_bytes()), "target": (dst, (ASSETS / dst).read_bytes())}
    body, ctype = multipart(files)
    t0 = time.perf_counter()
    req = urllib.request.Request(url + "/api/swap", data=body, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=900) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return status, time.perf_counter() - t0


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                pass
            time.sleep(0.05)


def slow_client(port: int, seconds: float, result: list[str]) -> None:
    """Send a GET's headers one byte at a time over ``seconds``, then read the answer."""
    head = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow" + b"x" * 200 + b"\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=seconds + 30) as s:
            for byte in head:
                s.sendall(bytes([byte]))
                time.sleep(seconds / len(head))
            result.append(s.recv(200).split(b"\r\n", 1)[0].decode())
    except OSError as e:
        result.append(f"error: {e}")


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--swaps", type=int, default=20)
    ap.add_argument("--slow", type=int, default=10)
    ap.add_argument("--slow-seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=None, help="server workers (default: its own, the CPUs)")
    a = ap.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "faceweave.cli", "web", "--port", str(port)]
    if a.workers:
        cmd += ["--workers", str(a.workers)]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    t_start = time.perf_counter()
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None:
                    sys.stderr.write(server.stderr.read().decode()[-2000:])
                    return 1
                time.sleep(0.3)
        print(f"server up in {time.perf_counter() - t_start:.1f} s (pid {server.pid}, {os.cpu_count()} CPUs)")
        sampler = RssSampler(server.pid)
        sampler.start()
        status, warm = swap(url, "facerec_biden.jpg", "facerec_obama.jpg")
        print(f"warm-up swap: HTTP {status}, {warm:.2f} s; RSS after warm-up {sampler.peak / 2**20:.0f} MB")

        pairs = [p for p in itertools.permutations(PORTRAITS, 2)][: a.swaps]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(a.swaps) as ex:
            results = list(ex.map(lambda p: swap(url, *p), pairs))
        wall = time.perf_counter() - t0
        ok = sum(s == 200 for s, _ in results)
        lat = [t for _, t in results]
        print(f"{a.swaps} concurrent swaps: {ok}/{a.swaps} HTTP 200 in {wall:.1f} s; latency p50 "
              f"{percentile(lat, 50):.1f} s, p95 {percentile(lat, 95):.1f} s, max {max(lat):.1f} s; "
              f"statuses {sorted({s for s, _ in results})}")
        print(f"server peak RSS so far: {sampler.peak / 2**20:.0f} MB (goal <= 2048 MB)")

        slow_results: list[str] = []
        slow = [threading.Thread(target=slow_client, args=(port, a.slow_seconds, slow_results)) for _ in range(a.slow)]
        for t in slow:
            t.start()
        time.sleep(2)
        normal = []
        end = time.perf_counter() + a.slow_seconds - 5
        while time.perf_counter() < end:
            s, t = swap(url, "facerec_obama.jpg", "facerec_biden.jpg")
            normal.append((s, t))
            time.sleep(3)
        for t in slow:
            t.join()
        print(f"while {a.slow} clients trickled headers over {a.slow_seconds:.0f} s: normal client served "
              f"{sum(s == 200 for s, _ in normal)}/{len(normal)} swaps, latency max {max(t for _, t in normal):.1f} s; "
              f"slow clients got: {sorted(set(slow_results))}")
        sampler.stop.set()
        print(f"server peak RSS: {sampler.peak / 2**20:.0f} MB (goal <= 2048 MB)")
        return 0 if ok == a.swaps and all(s == 200 for s, _ in normal) else 1
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
