"""How well the true correspondence fields explain the benchmark targets.

``python -m export3d.evaluation.oracle BENCH`` prints the figures below.

For every target set with fields (``self``, ``cross_gt``, ``views_gt``) it scores, over all targets:

* ``oracle warp``: the source warped by the true field, invisible pixels copied from the source (the row
  ``export3d.evaluation`` adds), and ``copy source`` — full-image PSNR / SSIM, as in the evaluation report;
* ``warp + true fill``: the same with the *target* pasted where the source does not see the point — the ceiling
  of any method that warps the source and inpaints the rest, and the fraction of pixels that need inpainting;
* the warp alone on the pixels it is responsible for (visible foreground): mean absolute error in grey
  levels and PSNR, i.e. the interpolation error of a bilinear warp with an exact field.
"""

from __future__ import annotations

import numpy as np
import torch

from ..synthetic.correspondence import flow_to_coords
from ..synthetic.parts import Part
from ..synthetic.warp import oracle_warp, warp
from .metrics import psnr, ssim

SETS = {"self": "self", "cross": "cross_gt", "views": "views_gt"}


def _tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(N, S, S, 3)`` -> float ``(N, 3, S, S)`` in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def _warp_errors(source: np.ndarray, coords: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel absolute and squared error ``(S, S)`` (grey levels, channel mean) of the bare bilinear warp."""
    diff = warp(source.astype(np.float32), coords) - target.astype(np.float32)
    return np.abs(diff).mean(-1), (diff ** 2).mean(-1)


def oracle_scores(bench: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per set: oracle / copy-source PSNR and SSIM (means over targets), visible-foreground warp MAE and PSNR."""
    out = {}
    for name, prefix in SETS.items():
        if f"{prefix}_flow" not in bench:
            continue
        preds, filled, copies, targets = [], [], [], []
        abs_sum = sq_sum = count = 0.0
        by_part = np.zeros((len(Part), 2))  # summed absolute error, pixels
        for i, source in enumerate(bench["source_frames"]):
            coords = flow_to_coords(bench[f"{prefix}_flow"][i])
            visible = bench[f"{prefix}_visible"][i].astype(bool)
            target = bench[f"{prefix}_frames"][i]
            preds.append(oracle_warp(source, coords, visible))
            filled.append(np.where(visible[..., None], preds[-1], target))
            copies.append(np.repeat(source[None], len(target), 0))
            targets.append(target)
            for c, v, part, t in zip(coords, visible, bench[f"{prefix}_part"][i], target, strict=True):
                a, s = _warp_errors(source, c, t)
                m = v & (part > 0)
                abs_sum, sq_sum, count = abs_sum + a[m].sum(), sq_sum + s[m].sum(), count + int(m.sum())
                np.add.at(by_part, part[v], np.stack([a[v], np.ones(int(v.sum()))], 1))
        p, f, c, t = (_tensor(np.concatenate(x)) for x in (preds, filled, copies, targets))
        out[name] = {"targets": len(t), "true-fill PSNR": psnr(f, t).mean().item(),
                     "invisible": float(1 - bench[f"{prefix}_visible"].mean()),
                     "oracle PSNR": psnr(p, t).mean().item(), "oracle SSIM": ssim(p, t).mean().item(),
                     "copy PSNR": psnr(c, t).mean().item(), "copy SSIM": ssim(c, t).mean().item(),
                     "warp MAE (visible fg)": abs_sum / max(count, 1),
                     "warp PSNR (visible fg)": float(10 * np.log10(255.0 ** 2 / max(sq_sum / max(count, 1), 1e-12))),
                     "warp MAE by part": {p.name.lower(): by_part[p, 0] / by_part[p, 1] for p in Part if by_part[p, 1]}}
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    from .synthetic_eval import load_benchmark

    p = argparse.ArgumentParser(prog="python -m export3d.evaluation.oracle", description=__doc__.splitlines()[0])
    p.add_argument("benchmark", type=Path, help="folder with benchmark.npz (made by make-benchmark)")
    a = p.parse_args(argv)
    for name, s in oracle_scores(load_benchmark(a.benchmark)).items():
        print(f"{name:6s} ({s['targets']} targets): oracle warp PSNR {s['oracle PSNR']:.2f} dB, "
              f"SSIM {s['oracle SSIM']:.3f} | copy source PSNR {s['copy PSNR']:.2f} dB, SSIM {s['copy SSIM']:.3f} | "
              f"warp + true fill PSNR {s['true-fill PSNR']:.2f} dB ({100 * s['invisible']:.1f}% of pixels not "
              f"visible) | warp on visible foreground: MAE {s['warp MAE (visible fg)']:.2f} grey levels, "
              f"PSNR {s['warp PSNR (visible fg)']:.2f} dB")
        print("       warp MAE on visible pixels by part: "
              + ", ".join(f"{k} {v:.2f}" for k, v in s["warp MAE by part"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
