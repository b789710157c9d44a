"""Load test of the web demo on loopback: memory over many client sessions, disk over many uploads, queue order.

    python benchmarks/load_demo.py                    # 50 sessions, 400 MB of uploads, 3 concurrent animations

Starts ``python app.py`` on 127.0.0.1 (a free port, its own temporary Gradio cache and output folder; the bundled
checkpoint) and stops it at the end; every phase is bounded in count and time. Prints:

1. the server's resident memory after the first client session prepared a portrait, after ``--sessions`` sessions
   each prepared a *different* 2048x2048 portrait, and after the clients closed and ``--idle`` seconds passed;
2. the disk use of the app's folders (Gradio's cache, which holds the uploads and the results) after ``--upload-mb``
   of uploads (files of ``--file-mb``, sent to the upload endpoint as a client would);
3. whether 3 animations submitted at once by 3 sessions were all served, and in submission order.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = ROOT / "examples" / "portraits" / "astronaut.jpg"
DRIVER = ROOT / "examples" / "drivers" / "smile.jpg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def portrait_variant(i: int, folder: Path) -> Path:
    """The example photo at 2048x2048, its colours shifted a little per ``i`` (a different file for the cache)."""
    im = np.asarray(Image.open(PORTRAIT).convert("RGB").resize((2048, 2048), Image.Resampling.BICUBIC), np.int16)
    im = np.clip(im + (i % 7) - 3 + (i // 7), 0, 255).astype(np.uint8)
    path = folder / f"portrait_{i:02d}.jpg"
    Image.fromarray(im).save(path, quality=92)
    return path


def start(cache: Path, outputs: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_TEMP_DIR": str(cache), "EXPORT3D_DEMO_OUTPUTS": str(outputs)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(240):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the app did not start within 2 minutes")


def main(argv=None) -> int:
    from gradio_client import Client, handle_file

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sessions", type=int, default=50)
    p.add_argument("--idle", type=float, default=30.0)
    p.add_argument("--upload-mb", type=float, default=400.0)
    p.add_argument("--file-mb", type=float, default=20.0)
    a = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="load_demo_"))
    cache, outputs, inputs = tmp / "gradio", tmp / "gradio" / "export3d-outputs", tmp / "inputs"
    inputs.mkdir(parents=True)
    proc, url = start(cache, outputs)
    try:
        client = lambda: Client(url, verbose=False, download_files=str(tmp / "downloads"))  # noqa: E731
        base = rss_mb(proc.pid)
        first = client()
        first.predict(handle_file(str(portrait_variant(0, inputs))), 1.0, 0.0, 0.0, api_name="/prepare")
        after_first = rss_mb(proc.pid)
        t0, clients = time.time(), [first]
        for i in range(1, a.sessions):
            c = client()
            c.predict(handle_file(str(portrait_variant(i, inputs))), 1.0, 0.0, 0.0, api_name="/prepare")
            clients.append(c)
        peak = rss_mb(proc.pid)
        print(f"memory: server {base:.0f} MB at start, {after_first:.0f} MB after the first session, {peak:.0f} MB "
              f"after {a.sessions} sessions ({time.time() - t0:.0f} s)")
        for c in clients:
            c.close()
        time.sleep(a.idle)
        idle = rss_mb(proc.pid)
        verdict = "within" if idle <= after_first + 200 else "NOT within"
        print(f"memory after the clients closed and {a.idle:g} s idle: {idle:.0f} MB ({verdict} 200 MB of the "
              f"first session's {after_first:.0f} MB)")
        blob = inputs / "blob.png"
        blob.write_bytes(os.urandom(int(a.file_mb * 2**20)))
        uploader, sent = client(), 0.0
        while sent < a.upload_mb:
            try:
                uploader.predict(handle_file(str(blob)), 1.0, 0.0, 0.0, api_name="/prepare")
            except Exception:  # noqa: BLE001 - the file is no image: the app refuses it after Gradio stored it
                pass
            sent += a.file_mb
        print(f"disk: {sent:.0f} MB uploaded in {a.file_mb:g} MB files; the app's folders hold {disk_mb(cache):.0f} MB")
        three = [client() for _ in range(3)]
        for c in three:
            c.predict(handle_file(str(PORTRAIT)), 1.0, 0.0, 0.0, api_name="/prepare")
            c.predict(handle_file(str(DRIVER)), api_name="/driver_image")
        jobs = [c.submit(0, 0, True, 1.0, "Auto", 0.5, 2, False, False, api_name="/animate") for c in three]
        done = []
        while len(done) < 3:
            for k, job in enumerate(jobs):
                if k not in done and job.done():
                    done.append(k)
            time.sleep(0.05)
        ok = all(Path(job.result()[0]).is_file() for job in jobs)
        print(f"3 concurrent animations: all served: {ok}; finished in order {done} (submitted 0, 1, 2)")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
