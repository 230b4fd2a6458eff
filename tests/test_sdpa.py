"""SDPA's path (models/sdpa.py): matmuls and a softmax for bf16/fp16 on a CPU, the fused
kernel everywhere else — the same attention either way."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from transgan.models.layers import Block
from transgan.models.sdpa import SHORT_ROW, sdpa, uses_fused_kernel


def _qkv(dtype: torch.dtype, n: int = 16, m: int = 16) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    shapes = [(3, 2, n, 8), (3, 2, m, 8), (3, 2, m, 8)]
    return [torch.randn(s, generator=g).to(dtype).requires_grad_() for s in shapes]


def _against_fp32_sdpa(
    qkv: list[torch.Tensor], mask: torch.Tensor | None = None, scale: float | None = None
) -> tuple[torch.Tensor, torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
    """``sdpa`` on ``qkv`` and torch's SDPA on fp32 copies, each backpropagating the sum of
    squares: (output, fp32 output, [(gradient, fp32 gradient)] for q, k, v)."""
    out = sdpa(*qkv, mask, scale=scale)
    out.float().square().sum().backward()
    ref_inputs = [t.detach().float().requires_grad_() for t in qkv]
    ref = F.scaled_dot_product_attention(*ref_inputs, attn_mask=mask, scale=scale)
    ref.square().sum().backward()
    return out, ref, [(t.grad, r.grad) for t, r in zip(qkv, ref_inputs, strict=True)]


MASKS = {
    "none": None,
    "bool": torch.rand(16, 16, generator=torch.Generator().manual_seed(1)) > 0.3,
    "bias": torch.randn(2, 16, 16, generator=torch.Generator().manual_seed(2)),
}


@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("scale", [None, 0.2])
def test_low_precision_cpu_path_matches_fp32_sdpa(mask_name: str, scale: float | None) -> None:
    mask = MASKS[mask_name]
    if mask is not None and mask.dtype == torch.bool:
        mask = mask | torch.eye(16, dtype=torch.bool)  # every query sees at least one key
    out, ref, grads = _against_fp32_sdpa(_qkv(torch.bfloat16), mask, scale)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, atol=3e-2, rtol=3e-2)
    for got, want in grads:
        torch.testing.assert_close(got.float(), want, atol=6e-2, rtol=6e-2)


@pytest.mark.parametrize("keys", [8, 48])
def test_low_precision_cpu_path_matches_fp32_sdpa_on_short_and_long_rows(keys: int) -> None:
    _, _, grads = _against_fp32_sdpa(_qkv(torch.bfloat16, n=16, m=keys))
    for got, want in grads:
        torch.testing.assert_close(got.float(), want, atol=6e-2, rtol=6e-2)


class _SoftmaxDtypes(TorchDispatchMode):
    """Records the dtype of every softmax (forward and backward) run inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.dtypes: list[torch.dtype] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket in (torch.ops.aten._softmax, torch.ops.aten._softmax_backward_data):
            self.dtypes.append(args[0].dtype)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("keys", [SHORT_ROW // 2, SHORT_ROW - 1, SHORT_ROW, 2 * SHORT_ROW])
def test_short_rows_take_their_softmax_in_fp32(keys: int) -> None:
    """bf16's softmax kernel on a CPU is slow on rows shorter than a vector (models/sdpa.py):
    those rows run in fp32, forward and backward; longer rows stay in bf16."""
    q, k, v = _qkv(torch.bfloat16, n=8, m=keys)
    with _SoftmaxDtypes() as seen:
        out = sdpa(q, k, v)
        out.float().sum().backward()
    want = torch.float32 if keys < SHORT_ROW else torch.bfloat16
    assert out.dtype == torch.bfloat16
    assert seen.dtypes == [want, want]


@pytest.fixture
def fused_calls(monkeypatch: pytest.MonkeyPatch) -> list[torch.dtype]:
    """The query dtype of every call to torch's fused SDPA while the test runs."""
    calls, original = [], F.scaled_dot_product_attention

    def recording(*args, **kwargs):
        calls.append(args[0].dtype)
        return original(*args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", recording)
    return calls


def test_path_by_device_and_dtype(fused_calls: list[torch.dtype]) -> None:
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        sdpa(*_qkv(dtype))
    assert fused_calls == [torch.float32]  # bf16 and fp16 on a CPU: matmuls and a softmax
    assert uses_fused_kernel(torch.zeros(1, dtype=torch.float32))
    assert not uses_fused_kernel(torch.zeros(1, dtype=torch.bfloat16))
    assert uses_fused_kernel(torch.zeros(1, dtype=torch.bfloat16, device="meta"))


@pytest.mark.parametrize("kind", ["dot", "l2"])
def test_block_under_cpu_autocast_matches_fp32(kind: str, fused_calls: list[torch.dtype]) -> None:
    """G's windowed blocks and D's L2 blocks under bf16 autocast: no fused kernel, the same
    output as in fp32 to bf16's precision."""
    torch.manual_seed(0)
    block = Block(32, num_heads=2, attn_kind=kind, grid=8, window=4)
    x = torch.randn(4, 64, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = block(x)
    assert fused_calls == []
    ref = block(x)
    assert fused_calls == [torch.float32]
    assert low.shape == ref.shape and torch.isfinite(low).all()
    torch.testing.assert_close(low.float(), ref, atol=5e-2, rtol=5e-2)
