"""CLeBS: Contrastive Learned Basis Scaling, the expression encoder f_e.

``lambda = MLP(beta) in R^n`` and ``beta' = sum_i lambda_i v_i in R^d`` where the
basis ``v_1..v_n`` is the Q factor of a QR decomposition of a learned ``d x n``
matrix, recomputed at every forward, so it is orthonormal by construction.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..config import ExpressionConfig


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int) -> nn.Sequential:
    """``layers`` linear layers with LeakyReLU(0.2) between them."""
    dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
    mods: list[nn.Module] = []
    for i in range(layers):
        mods.append(nn.Linear(dims[i], dims[i + 1]))
        if i < layers - 1:
            mods.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*mods)


class CLeBS(nn.Module):
    """Expression encoder: ``beta (B, beta_dim)`` -> ``beta' (B, code_dim)``."""

    def __init__(self, cfg: ExpressionConfig):
        super().__init__()
        self.cfg = cfg
        self.coefficients = mlp(cfg.beta_dim, cfg.hidden_dim, cfg.num_basis, cfg.num_layers)
        self.basis_weight = nn.Parameter(torch.randn(cfg.code_dim, cfg.num_basis))

    def basis(self) -> torch.Tensor:
        """Orthonormal basis ``(code_dim, num_basis)``; column ``i`` is ``v_i``."""
        q, r = torch.linalg.qr(self.basis_weight)
        # Fix QR's sign ambiguity so the basis is a smooth function of the weight.
        return q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, torch.ones(()))

    def coefficients_of(self, beta: torch.Tensor) -> torch.Tensor:
        """``lambda (B, num_basis)``."""
        return self.coefficients(beta)

    def forward(self, beta: torch.Tensor) -> torch.Tensor:
        return self.coefficients(beta) @ self.basis().T


class DirectExpression(nn.Module):
    """Ablation ("Direct 3DMM beta"): a plain MLP ``beta -> R^d`` with no contrastive basis."""

    def __init__(self, cfg: ExpressionConfig):
        super().__init__()
        self.net = mlp(cfg.beta_dim, cfg.hidden_dim, cfg.code_dim, cfg.num_layers)

    def forward(self, beta: torch.Tensor) -> torch.Tensor:
        return self.net(beta)
