"""ViTGAN's Lipschitz discriminator pieces (Lee et al., ICLR 2022, §4.1), from its equations.

- **L2-distance attention with a tied query/key projection**: the logits of query i and key j
  are −‖q_i − k_j‖²/√d with W_q = W_k. Dot-product attention is not Lipschitz; this is
  (Kim et al. 2021), and a ViT discriminator trained with it does not need its gradient
  penalty to do all the work.
- **Improved spectral normalisation**: each weight is divided by its spectral norm and
  multiplied by the spectral norm it had at initialisation, W·σ(W₀)/σ(W): the layer stays
  1-Lipschitz up to its initial scale instead of being squashed to norm 1, which the paper
  reports makes plain spectral norm's ViT discriminator learn far too slowly. The initial
  scale is that of an equalised (fan-in scaled) layer, as in the official code.

The L2 logits still run on SDPA (models/sdpa.py: the fused kernel, or matmuls on a CPU in
bf16): with q′ = [q, 1] and k′ = [2k, −‖k‖²],
q′·k′ = 2q·k − ‖k‖² = −‖q − k‖² + ‖q‖², and ‖q_i‖² is the same for every key of row i, which
a softmax ignores.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from transgan.models.sdpa import apply_mask, sdpa


def l2_attention(
    q: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, impl: str
) -> torch.Tensor:
    """softmax(−‖q_i − q_j‖²/√d + mask)·v for tied queries and keys q (B, heads, N, d)."""
    d = q.shape[-1]
    if impl == "sdpa":
        ones = torch.ones_like(q[..., :1])
        q_aug = torch.cat([q, ones], dim=-1)  # (B, h, N, d+1)
        k_aug = torch.cat([2 * q, -q.square().sum(-1, keepdim=True)], dim=-1)
        return sdpa(q_aug, k_aug, v, mask, scale=d**-0.5)
    qf = q.float()
    distance = torch.cdist(qf, qf).square()  # (B, h, N, N)
    scores = apply_mask(-distance * d**-0.5, mask, torch.float32)
    return (scores.softmax(-1) @ v.float()).to(q.dtype)


def _spectral_norm(weight: torch.Tensor, u: torch.Tensor, iterations: int) -> torch.Tensor:
    """σ(W) by power iteration from ``u`` (updated in place); W is (out, in)."""
    w = weight.detach().flatten(1)
    with torch.no_grad():
        for _ in range(iterations):
            v = F.normalize(w.t() @ u, dim=0)
            u.copy_(F.normalize(w @ v, dim=0))
    v = F.normalize(w.t() @ u, dim=0)
    return u @ weight.flatten(1) @ v  # differentiable in W; u, v held constant


class ImprovedSpectralNorm(nn.Module):
    """Parametrisation W -> W·σ₀/σ(W), one power-iteration step per training forward.

    σ₀ = ``gain``·σ(W₀): with ``gain`` 1 the layer keeps its initial norm. An equalised layer
    (``gain`` 1/√fan_in on weights drawn N(0, 1)) keeps the norm of its *effective* initial
    weight, ≈ 1 + √(out/in), as the official code's SpectralNorm(EqualLinear) does."""

    def __init__(self, weight: torch.Tensor, init_iterations: int = 30, gain: float = 1.0) -> None:
        super().__init__()
        out_features = weight.shape[0]
        u = F.normalize(torch.randn(out_features, device=weight.device), dim=0)
        self.register_buffer("u", u)
        sigma0 = _spectral_norm(weight.detach().float(), self.u, init_iterations) * gain
        self.register_buffer("sigma0", sigma0.detach().clone())

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        steps = 1 if self.training else 0
        sigma = _spectral_norm(weight, self.u, steps)
        return weight * (self.sigma0 / sigma.clamp_min(1e-12))


def apply_improved_spectral_norm(module: nn.Module, equalized: bool = False) -> int:
    """Put ``ImprovedSpectralNorm`` on every Linear and Conv2d weight below ``module``;
    returns how many weights it took.

    ``equalized``: as the ViTGAN paper and its official code, on equalised-learning-rate
    layers — each weight is redrawn N(0, 1) and anchored at σ₁ of its effective weight
    W₀/√fan_in (norms ≈ 1.5–3). Anchored at small initial weights instead (trunc-normal
    0.02: norms 0.16–0.9), the layers' norms are frozen that small for the whole run and
    D's logits cannot grow (docs/quality.md). Since W·σ₀/σ(W) does not depend on W's scale,
    the N(0, 1) draw changes only how fast Adam moves the weights relative to their size —
    as fast as in the official code's equalised layers."""
    count = 0
    for layer in list(module.modules()):
        if isinstance(layer, nn.Linear | nn.Conv2d) and not parametrize.is_parametrized(layer):
            gain = 1.0
            if equalized:
                with torch.no_grad():
                    layer.weight.normal_(0.0, 1.0)
                gain = layer.weight[0].numel() ** -0.5  # 1/√fan_in
            parametrize.register_parametrization(
                layer, "weight", ImprovedSpectralNorm(layer.weight, gain=gain)
            )
            count += 1
    return count
