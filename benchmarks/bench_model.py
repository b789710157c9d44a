"""Speed benchmark of the model presets: ``python benchmarks/bench_model.py [--presets small paper]``.

Prints, per preset: parameters, GFLOPs per frame, ms per frame (full, and with
the source encoding cached) in fp32 and in bf16-autocast + channels_last, the
achieved GFLOP/s and its fraction of this machine's GEMM peaks measured in the
same run, the training-step time at batch 4 (``small``), and the speed ratio of
the renderer against the naive reference renderer in the same run (same
allocator, and the naive port under glibc's default allocator in a subprocess).
Figures, not assertions; results are recorded in the README.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without installing
from export3d.config import ModelConfig  # noqa: E402
from export3d.models.export3d import Export3D  # noqa: E402
from export3d.rendering.camera import orbit_camera  # noqa: E402
from export3d.rendering.reference import render_triplane_reference  # noqa: E402
from export3d.rendering.renderer import RenderSettings, render_triplane  # noqa: E402
from export3d.runtime import tune_malloc  # noqa: E402


def timed(fn, iters: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def gemm_peak(dtype: torch.dtype, n: int = 2048) -> float:
    """GFLOP/s of an ``n x n`` matmul in ``dtype``."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    ms = timed(lambda: a @ b, 5, 2)
    return 2 * n**3 / ms / 1e6


def conv_peak(dtype: torch.dtype, channels: int = 1024, size: int = 64) -> float:
    """GFLOP/s of a 1x1 convolution (a GEMM through oneDNN, channels_last) in ``dtype``."""
    x = torch.randn(1, channels, size, size, dtype=dtype).contiguous(memory_format=torch.channels_last)
    w = torch.randn(channels, channels, 1, 1, dtype=dtype).contiguous(memory_format=torch.channels_last)
    ms = timed(lambda: torch.nn.functional.conv2d(x, w), 5, 2)
    return 2 * channels * channels * size * size / ms / 1e6


def count_flops(fn) -> float:
    """FLOPs counted by torch's FlopCounterMode (matmuls and convolutions)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def sampling_flops(cfg: ModelConfig, batch: int = 1) -> float:
    """Bilinear tri-plane taps, not seen by FlopCounterMode: 3 planes x 4 taps x C x 2 per point."""
    r = cfg.render
    points = batch * r.render_size**2 * (r.num_coarse + r.num_fine)
    return points * 3 * 4 * cfg.generator.plane_channels * 2


def bench_inference(model: Export3D, cfg: ModelConfig, iters: int) -> dict:
    s = cfg.generator.source_size
    src_img = torch.rand(1, 3, s, s) * 2 - 1
    beta, cam = torch.rand(1, cfg.expression.beta_dim), orbit_camera(15.0, -5.0)
    out: dict = {}
    with torch.no_grad():
        src = model.encode_source(src_img)
        flops_full = count_flops(lambda: model(src_img, beta, cam)) + sampling_flops(cfg)
        flops_cached = count_flops(lambda: model.animate_frame(src, beta, cam)) + sampling_flops(cfg)
        out["gflop_full"], out["gflop_cached"] = flops_full / 1e9, flops_cached / 1e9
        for mode, bf16 in (("fp32", False), ("bf16", True)):
            model.configure_runtime(bf16_cnn=bf16, channels_last=bf16)
            src = model.encode_source(src_img)
            full = timed(lambda: model(src_img, beta, cam), iters)
            cached = timed(lambda src=src: model.animate_frame(src, beta, cam), iters)
            planes = model.planes(src, beta)
            render = timed(lambda p=planes: render_triplane(p, model.decoder, cam, model.render_settings()), iters)
            out[mode] = {"ms_full": full, "ms_cached": cached, "ms_render": render,
                         "fps_cached": 1e3 / cached, "gflops_full": flops_full / full / 1e6}
        model.configure_runtime(False, False)
    return out


def bench_train_step(model: Export3D, cfg: ModelConfig, batch: int, iters: int, bf16: bool) -> float:
    """ms per step: forward (perturbed samples), L1 on SR + raw, backward, Adam."""
    s, o, r = cfg.generator.source_size, cfg.superres.output_size, cfg.render.render_size
    model.train().configure_runtime(bf16_cnn=bf16, channels_last=bf16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    src = torch.rand(batch, 3, s, s) * 2 - 1
    beta, cam = torch.rand(batch, cfg.expression.beta_dim), orbit_camera([0.0, 10, -10, 20][:batch] * 1, 0.0)
    target = torch.rand(batch, 3, o, o) * 2 - 1
    target_raw = torch.nn.functional.interpolate(target, size=(r, r), mode="area")

    def step():
        out = model(src, beta, cam, perturb=True)
        loss = (out.image - target).abs().mean() + (out.raw.rgb - target_raw).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    ms = timed(step, iters, warmup=2)
    model.eval().configure_runtime(False, False)
    return ms


def _random_renderer_inputs(cfg: ModelConfig, batch: int, seed: int = 0):
    torch.manual_seed(seed)
    g = cfg.generator
    planes = torch.randn(batch, 3, g.plane_channels, g.plane_size, g.plane_size) * 0.5
    model = Export3D(cfg)
    cams = orbit_camera(torch.linspace(-20, 20, batch), 0.0)
    return planes, model.decoder, cams


def bench_renderers(cfg: ModelConfig, batch: int, iters: int, which: str = "both") -> dict:
    """ms of the fast and reference renderers, forward (no grad) and forward+backward."""
    planes, decoder, cams = _random_renderer_inputs(cfg, batch)
    r = cfg.render
    st = RenderSettings(r.render_size, r.num_coarse, r.num_fine, r.near, r.far, r.box_size, perturb=True)
    fns = {"fast": render_triplane, "reference": render_triplane_reference}
    out = {}
    for name, fn in fns.items():
        if which not in ("both", name):
            continue
        with torch.no_grad():
            fwd = timed(lambda fn=fn: fn(planes, decoder, cams, st), iters)
        p = planes.clone().requires_grad_(True)

        def fwd_bwd(fn=fn, p=p):
            o = fn(p, decoder, cams, st)
            (o.features.mean() + o.depth.mean()).backward()

        out[name] = {"fwd_ms": fwd, "fwd_bwd_ms": timed(fwd_bwd, iters)}
    return out


def naive_in_subprocess(preset: str, batch: int, iters: int) -> dict | None:
    """The reference renderer under glibc's default allocator (what a straight port gets)."""
    env = dict(os.environ, EXPORT3D_NO_MALLOPT="1")
    cmd = [sys.executable, __file__, "--naive-only", preset, "--batch", str(batch),
           "--iters", str(iters)]
    try:
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=True)
        return json.loads(res.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as e:
        print(f"  (naive subprocess failed: {e})")
        return None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["small", "paper"], choices=["small", "paper"])
    ap.add_argument("--iters", type=int, default=0, help="timed iterations (default: 20 small, 3 paper)")
    ap.add_argument("--batch", type=int, default=4, help="batch for training-step and renderer timings")
    ap.add_argument("--naive-only", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.naive_only:  # internal: child process for the default-allocator baseline
        cfg = ModelConfig.preset(args.naive_only)
        print(json.dumps(bench_renderers(cfg, args.batch, args.iters or 5, "reference")["reference"]))
        return
    tuned = tune_malloc()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"cpu capability {torch.backends.cpu.get_cpu_capability()}, mallopt tuned: {tuned}")
    mkl32, dnn32 = gemm_peak(torch.float32), conv_peak(torch.float32)
    mkl16, dnn16 = gemm_peak(torch.bfloat16), conv_peak(torch.bfloat16)
    peak32, peak16 = max(mkl32, dnn32), max(mkl16, dnn16)
    print(f"measured GEMM peak: fp32 {peak32:.0f} GFLOP/s (matmul 2048^2 {mkl32:.0f}, oneDNN 1x1 conv {dnn32:.0f}), "
          f"bf16 {peak16:.0f} GFLOP/s (matmul {mkl16:.0f}, 1x1 conv {dnn16:.0f})")
    for preset in args.presets:
        run_preset(preset, args, peak32, peak16)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def run_preset(preset: str, args, peak32: float, peak16: float) -> None:
    cfg = ModelConfig.preset(preset)
    iters = args.iters or (20 if preset == "small" else 3)
    model = Export3D(cfg).eval()
    n_params = sum(p.numel() for p in model.parameters())
    parts = {k: sum(p.numel() for p in getattr(model, k).parameters())
             for k in ("expression", "generator", "decoder", "superres")}
    g, r, s = cfg.generator, cfg.render, cfg.superres
    print(f"\n== {preset}: source {g.source_size}, planes 3x{g.plane_channels}x{g.plane_size}^2, "
          f"render {r.render_size}^2 ({r.num_coarse}+{r.num_fine} samples), output {s.output_size}^2")
    print(f"params {n_params / 1e6:.2f} M (" + ", ".join(f"{k} {v / 1e6:.3f} M" for k, v in parts.items()) + ")")
    inf = bench_inference(model, cfg, iters)
    print(f"GFLOP per frame: full {inf['gflop_full']:.2f}, source cached {inf['gflop_cached']:.2f}")
    for mode, peak in (("fp32", peak32), ("bf16", peak16)):
        m = inf[mode]
        print(f"[{mode}{'+channels_last' if mode == 'bf16' else ''}] full {m['ms_full']:.1f} ms "
              f"({1e3 / m['ms_full']:.1f} fps), cached source {m['ms_cached']:.1f} ms ({m['fps_cached']:.1f} fps), "
              f"render alone {m['ms_render']:.1f} ms; achieved {m['gflops_full']:.0f} GFLOP/s = "
              f"{100 * m['gflops_full'] / peak:.0f}% of the measured {mode} GEMM peak")
    if preset == "small":
        for bf16 in (False, True):
            ms = bench_train_step(model, cfg, args.batch, max(3, iters // 4), bf16)
            print(f"training step, batch {args.batch}, {'bf16+channels_last CNNs' if bf16 else 'fp32'}: {ms:.0f} ms")
    rb = min(args.batch, 4) if preset == "small" else 1
    rend = bench_renderers(cfg, rb, max(3, iters // 2))
    f, ref = rend["fast"], rend["reference"]
    print(f"renderer (batch {rb}) fwd: fast {f['fwd_ms']:.1f} ms vs reference {ref['fwd_ms']:.1f} ms "
          f"= {ref['fwd_ms'] / f['fwd_ms']:.2f}x; fwd+bwd: {f['fwd_bwd_ms']:.1f} vs {ref['fwd_bwd_ms']:.1f} ms "
          f"= {ref['fwd_bwd_ms'] / f['fwd_bwd_ms']:.2f}x  (same allocator)")
    naive = naive_in_subprocess(preset, rb, max(3, iters // 2))
    if naive:
        print(f"naive port under default glibc malloc: fwd {naive['fwd_ms']:.1f} ms "
              f"({naive['fwd_ms'] / f['fwd_ms']:.2f}x slower than fast), fwd+bwd {naive['fwd_bwd_ms']:.1f} ms "
              f"({naive['fwd_bwd_ms'] / f['fwd_bwd_ms']:.2f}x)")


if __name__ == "__main__":
    main()
