"""Identity leakage of expression codes: how well a linear probe recognises *who* from an expression vector.

The paper's claim: raw 3DMM expression parameters cluster by identity (the fitted expression absorbs
face shape), while CLeBS's beta' does not. Measured here with a multinomial logistic-regression probe
trained on the first half of each held-out clip's frames and tested on the second half (frames of one
clip show one person; chance accuracy = 1 / number of clips). Features are standardised with the
training half's statistics. beta' lies in an ``n``-dimensional subspace (the CLeBS basis), so the raw
beta is also probed after PCA to the same number of dimensions for a like-for-like comparison.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                   weight_decay: float = 1e-3, iterations: int = 200) -> float:
    """Test accuracy of a linear softmax classifier fitted with L-BFGS (deterministic)."""
    x = torch.as_tensor(train_x, dtype=torch.float64)
    mu, sd = x.mean(0), x.std(0).clamp_min(1e-8)
    x = (x - mu) / sd
    xt = (torch.as_tensor(test_x, dtype=torch.float64) - mu) / sd
    y = torch.as_tensor(train_y, dtype=torch.long)
    classes = int(max(train_y.max(), test_y.max())) + 1
    w = torch.zeros(x.shape[1], classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=iterations, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x @ w + b, y) + weight_decay * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = (xt @ w + b).argmax(1).numpy()
    return float((pred == np.asarray(test_y)).mean())


def pca_project(train_x: np.ndarray, test_x: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Project both onto the top ``dims`` principal axes of ``train_x``."""
    mu = train_x.mean(0)
    _, _, vt = np.linalg.svd(train_x - mu, full_matrices=False)
    v = vt[:dims].T
    return (train_x - mu) @ v, (test_x - mu) @ v


def split_halves(features: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, ...]:
    """``features (C, F, D)``, ``valid (C, F)`` -> train_x, train_y, test_x, test_y (first/second half)."""
    half = features.shape[1] // 2
    parts = []
    for sl in (slice(0, half), slice(half, None)):
        f, v = features[:, sl], valid[:, sl]
        labels = np.broadcast_to(np.arange(len(features))[:, None], v.shape)
        parts += [f[v], labels[v]]
    return tuple(parts)


def identity_leakage(beta: np.ndarray, valid: np.ndarray, encode, code_rank: int) -> dict[str, float]:
    """Probe accuracies for raw beta, raw beta PCA-``code_rank``, and ``encode(beta)`` (beta')."""
    with torch.no_grad():
        code = encode(torch.as_tensor(beta.reshape(-1, beta.shape[-1]), dtype=torch.float32))
    code = code.numpy().reshape(*beta.shape[:2], -1)
    out = {"clips": int(len(beta)), "chance": 1.0 / len(beta), "code_rank": int(code_rank)}
    tx, ty, sx, sy = split_halves(beta, valid)
    out["raw beta"] = probe_accuracy(tx, ty, sx, sy)
    px, psx = pca_project(tx, sx, code_rank)
    out[f"raw beta, PCA {code_rank}"] = probe_accuracy(px, ty, psx, sy)
    cx, cy, csx, csy = split_halves(code, valid)
    out["beta' (model)"] = probe_accuracy(cx, cy, csx, csy)
    return out
