"""Load test of the web demo on loopback: memory over many client sessions, disk over many uploads, queue order.

    python benchmarks/load_demo.py                    # 50 sessions, 400 MB of uploads, 3 concurrent animations

Starts ``python app.py`` on 127.0.0.1 (a free port, its own temporary Gradio cache and output folder; the bundled
checkpoint) and stops it at the end; every phase is bounded in count and time. Prints:

1. the server's resident memory after the first client session prepared a portrait, after ``--sessions`` sessions
   each prepared a *different* 2048x2048 portrait, and while the clients are idle (``gradio_client`` sessions never
   end, so only the app's idle sweep gives memory back: ``EXPORT3D_DEMO_IDLE_SECONDS``,
   ``EXPORT3D_DEMO_RELEASE_AFTER_SECONDS``, passed on to the server from this script's environment); it stops
   waiting once memory is within 200 MB of the first session's, or after ``--idle`` seconds (default: long enough
   for the sweep to release the sessions' portraits);
2. the disk use of the app's folders (Gradio's cache, which holds the uploads and the results) after ``--upload-mb``
   of uploads (files of ``--file-mb``, sent to the upload endpoint as a client would): the largest seen during the
   uploads and a sweep period after them, against the cap (``EXPORT3D_DEMO_MAX_UPLOADS_MB`` +
   ``EXPORT3D_DEMO_MAX_OUTPUT_MB``);
3. whether 3 animations submitted by 3 sessions within half a second were all served, and in submission order.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a clone without installing
PORTRAIT = ROOT / "examples" / "portraits" / "astronaut.jpg"
DRIVER = ROOT / "examples" / "drivers" / "smile.jpg"
SUBMIT_GAP = 0.25  #: seconds between the 3 concurrent animations' submissions


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


def wait_idle(pid: int, target: float, seconds: float, t0: float, step: float = 5.0) -> tuple[float, float, list[str]]:
    """Resident memory sampled every ``step`` s until it is at most ``target`` MB or ``seconds`` passed since
    ``t0``: the last reading, when it was taken and a timeline (one reading every 30 s)."""
    timeline, mark = [], 0.0
    while True:
        now, mb = time.time() - t0, rss_mb(pid)
        if not timeline or now >= mark:
            timeline.append(f"{now:.0f} s: {mb:.0f} MB")
            mark = 30 * (now // 30 + 1)
        if mb <= target or now >= seconds:
            return mb, now, timeline
        time.sleep(step)


def main(argv=None) -> int:
    from gradio_client import Client, handle_file

    from export3d.demo import SWEEP_PERIOD, DemoLimits
    from export3d.demo.outputs import OUTPUT_MAX_MB

    limits = DemoLimits.from_env()
    sweep_after = limits.release_after_seconds + limits.idle_seconds + 2 * SWEEP_PERIOD + 10
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sessions", type=int, default=50)
    p.add_argument("--idle", type=float, default=sweep_after, help="the longest wait for memory to come back")
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
        t_last = time.time()  # the server's last job ended
        for c in clients:
            c.close()
        idle, waited, timeline = wait_idle(proc.pid, after_first + 200, a.idle, t_last)
        verdict = "within" if idle <= after_first + 200 else "NOT within"
        print(f"memory {waited:.0f} s after the last session (clients closed, server idle): {idle:.0f} MB "
              f"({verdict} 200 MB of the first session's {after_first:.0f} MB); timeline: {', '.join(timeline)}")
        blob, data = inputs / "blob.png", bytearray(os.urandom(int(a.file_mb * 2**20)))
        uploader, sent, most, t0 = client(), 0.0, 0.0, time.time()
        while sent < a.upload_mb:
            data[:8] = int(sent * 1000).to_bytes(8, "little")  # a different file each time (Gradio dedups by hash)
            blob.write_bytes(data)
            try:
                uploader.predict(handle_file(str(blob)), 1.0, 0.0, 0.0, api_name="/prepare")
            except Exception:  # noqa: BLE001 - the file is no image: the app refuses it after Gradio stored it
                pass
            sent += a.file_mb
            most = max(most, disk_mb(cache))
        seconds = time.time() - t0
        time.sleep(SWEEP_PERIOD + 2)
        cap = limits.max_uploads_mb + float(os.environ.get("EXPORT3D_DEMO_MAX_OUTPUT_MB") or OUTPUT_MAX_MB)
        print(f"disk: {sent:.0f} MB uploaded in {a.file_mb:g} MB files in {seconds:.0f} s; the app's folders held at "
              f"most {most:.0f} MB during the uploads and {disk_mb(cache):.0f} MB {SWEEP_PERIOD + 2:g} s later (cap: "
              f"{cap:g} MB, uploads {limits.max_uploads_mb:g} + outputs)")
        three = [client() for _ in range(3)]
        for c in three:
            c.predict(handle_file(str(PORTRAIT)), 1.0, 0.0, 0.0, api_name="/prepare")
            c.predict(handle_file(str(DRIVER)), api_name="/driver_image")
        jobs = []
        for c in three:  # a quarter second apart, so that the order they reach the server in is the submission order
            jobs.append(c.submit(0, 0, True, 1.0, "Auto", 0.5, 2, False, False, api_name="/animate"))
            time.sleep(SUBMIT_GAP)
        done = []
        while len(done) < 3:
            for k, job in enumerate(jobs):
                if k not in done and job.done():
                    done.append(k)
            time.sleep(0.05)
        ok = all(Path(job.result()[0]).is_file() for job in jobs)
        print(f"3 concurrent animations: all served: {ok}; finished in order {done} (submitted 0, 1, 2, "
              f"{SUBMIT_GAP:g} s apart)")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
