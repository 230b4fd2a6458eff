"""The authors' state-dict layouts written out from SPEC.md / SPEC-v2 §8.1, independently of
``transgan.interop.authors_layout``: key -> shape, bare module (no ``module.`` prefix).

Used to make synthetic authors' checkpoints without downloading anything.
"""

from __future__ import annotations

Shapes = dict[str, tuple[int, ...]]


def block(prefix: str, c: int, w: int, *, norm: str, noise: bool, v1: bool = False) -> Shapes:
    """B[c, w] of SPEC-v2 §8.1 (v1: plain LayerNorm names, no bias table)."""
    out: Shapes = {}
    wrap = "" if v1 else ".norm"
    if norm == "ln":
        out[f"{prefix}norm1{wrap}.weight"] = (c,)
        out[f"{prefix}norm1{wrap}.bias"] = (c,)
    if w > 0:
        out[f"{prefix}attn.relative_position_bias_table"] = ((2 * w - 1) ** 2, 4)
    if noise:
        out[f"{prefix}attn.noise_strength_1"] = ()
    if w > 0:
        out[f"{prefix}attn.relative_position_index"] = (w * w, w * w)
    out[f"{prefix}attn.qkv.weight"] = (3 * c, c)
    out[f"{prefix}attn.proj.weight"] = (c, c)
    out[f"{prefix}attn.proj.bias"] = (c,)
    if norm == "ln":
        out[f"{prefix}norm2{wrap}.weight"] = (c,)
        out[f"{prefix}norm2{wrap}.bias"] = (c,)
    out[f"{prefix}mlp.fc1.weight"] = (4 * c, c)
    out[f"{prefix}mlp.fc1.bias"] = (4 * c,)
    out[f"{prefix}mlp.fc2.weight"] = (c, 4 * c)
    out[f"{prefix}mlp.fc2.bias"] = (c,)
    return out


def v1_generator(latent: int, bw: int, dim: int, depths: tuple[int, ...]) -> Shapes:
    """``ViT_8_8`` / ``Celeba64_TransGAN``: blocks, upsample_blocks.{k}.{i}, to_rgb BN."""
    out: Shapes = {"l1.weight": (bw * bw * dim, latent), "l1.bias": (bw * bw * dim,)}
    for k in range(len(depths)):
        out[f"pos_embed_{k + 1}"] = (1, (bw * 2**k) ** 2, dim // 4**k)
    for k, depth in enumerate(depths):
        group = "blocks" if k == 0 else f"upsample_blocks.{k - 1}"
        for i in range(depth):
            out |= block(f"{group}.{i}.", dim // 4**k, 0, norm="ln", noise=False, v1=True)
    for name in ("weight", "bias", "running_mean", "running_var"):
        out[f"to_rgb.0.{name}"] = (dim,)
    out["to_rgb.0.num_batches_tracked"] = ()
    out["deconv.0.weight"] = (3, dim // 4 ** (len(depths) - 1), 1, 1)
    out["deconv.0.bias"] = (3,)
    return out


def v1_discriminator(img: int, patch: int = 4, dim: int = 384, depth: int = 7) -> Shapes:
    n = (img // patch) ** 2
    out: Shapes = {"cls_token": (1, 1, dim), "pos_embed": (1, n + 1, dim)}
    out["patch_embed.weight"] = (dim, 3, patch, patch)
    out["patch_embed.bias"] = (dim,)
    for i in range(depth):
        out |= block(f"blocks.{i}.", dim, 0, norm="ln", noise=False, v1=True)
    out |= {"norm.weight": (dim,), "norm.bias": (dim,), "head.weight": (1, dim), "head.bias": (1,)}
    return out


def custom_rp_generator(latent: int, bw: int, c: int, depths: tuple[int, ...], norm: str) -> Shapes:
    """``ViT_custom_rp`` (CIFAR-10 150 keys, STL-10 142 keys)."""
    out: Shapes = {}
    for k in range(3):
        out[f"pos_embed_{k + 1}"] = (1, (bw * 2**k) ** 2, c // 4**k)
    out |= {"l1.weight": (bw * bw * c, latent), "l1.bias": (bw * bw * c,)}
    for k, depth in enumerate(depths):
        group = "blocks" if k == 0 else f"upsample_blocks.{k - 1}"
        for i in range(depth):
            out |= block(f"{group}.block.{i}.", c // 4**k, bw * 2**k, norm=norm, noise=False)
    out |= {"deconv.0.weight": (3, c // 16, 1, 1), "deconv.0.bias": (3,)}
    return out


def scale2_discriminator(img: int, p: int, c: int, norm: str) -> Shapes:
    """``ViT_custom_scale2_rp_noise`` (CIFAR-10 107 keys, STL-10 77 keys)."""
    out: Shapes = {"cls_token": (1, 1, c)}
    out["pos_embed_1"] = (1, (img // p) ** 2, 3 * c // 4)
    out["pos_embed_2"] = (1, (img // (2 * p)) ** 2, c)
    out |= {"fRGB_1.weight": (3 * c // 4, 3, p, p), "fRGB_1.bias": (3 * c // 4,)}
    out |= {"fRGB_2.weight": (c // 4, 3, 2 * p, 2 * p), "fRGB_2.bias": (c // 4,)}
    for i in range(3):
        out |= block(f"blocks_1.{i}.", 3 * c // 4, img // p, norm=norm, noise=True)
    for i in range(3):
        out |= block(f"blocks_2.{i}.", c, img // (2 * p), norm=norm, noise=True)
    out |= block("last_block.0.", c, 0, norm=norm, noise=True)
    if norm == "ln":
        out |= {"norm.norm.weight": (c,), "norm.norm.bias": (c,)}
    out |= {"head.weight": (1, c), "head.bias": (1,)}
    return out


_256_DIMS = (1024, 1024, 1024, 256, 64, 16)
_256_WINDOWS = (8, 16, 32, 16, 16, 16)


def church_generator() -> Shapes:
    """``ViT_custom_local544444_256_rp_noise`` (260 keys)."""
    out: Shapes = {f"pos_embed_{k + 1}": (1, (8 * 2**k) ** 2, d) for k, d in enumerate(_256_DIMS)}
    out |= {"l1.weight": (65536, 512), "l1.bias": (65536,)}
    for k, depth in enumerate((5, 4, 4, 4, 4, 4)):
        for i in range(depth):
            c, w = _256_DIMS[k], _256_WINDOWS[k]
            out |= block(f"blocks_{k + 1}.block.{i}.", c, w, norm="pn", noise=True)
    out |= {"deconv.0.weight": (3, 16, 1, 1), "deconv.0.bias": (3,)}
    return out


def celeba_generator() -> Shapes:
    """``Celeba256_gen`` (333 keys): cross-attention blocks in stages 2..6."""
    out: Shapes = {f"pos_embed_{k + 1}": (1, (8 * 2**k) ** 2, d) for k, d in enumerate(_256_DIMS)}
    out["embed_pos"] = (1, 64, 1024)
    out |= {"l1.weight": (65536, 512), "l1.bias": (65536,)}
    out |= {"embedding_transform.weight": (65536, 512), "embedding_transform.bias": (65536,)}
    for k in range(1, 6):
        c, w = _256_DIMS[k], _256_WINDOWS[k]
        for i in range(4):
            prefix = f"blocks_{k + 1}.block.{i}."
            out |= block(prefix, c, w, norm="pn", noise=True)
            out[prefix + "cross_attention.noise_strength_1"] = ()
            out[prefix + "cross_attention.q_transform.weight"] = (c, c)
            out[prefix + "cross_attention.k_transform.weight"] = (c, 1024)
            out[prefix + "cross_attention.v_transform.weight"] = (c, 1024)
            out[prefix + "cross_attention.proj.weight"] = (c, c)
            out[prefix + "cross_attention.proj.bias"] = (c,)
    out |= {"deconv.0.weight": (3, 16, 1, 1), "deconv.0.bias": (3,)}
    return out


def _three_scale_d(
    pos: tuple[int, ...], dims: tuple[int, ...], frgb: tuple[tuple[int, int], ...], groups: list
) -> Shapes:
    out: Shapes = {"cls_token": (1, 1, dims[-1])}
    for k, (n, d) in enumerate(zip(pos, dims, strict=True)):
        out[f"pos_embed_{k + 1}"] = (1, n, d)
    for k, (channels, kernel) in enumerate(frgb):
        out[f"fRGB_{k + 1}.weight"] = (channels, 3, kernel, kernel)
        out[f"fRGB_{k + 1}.bias"] = (channels,)
    for name, count, c, w in groups:
        for i in range(count):
            out |= block(f"{name}.{i}.", c, w, norm="ln", noise=False)
    out |= {"norm.norm.weight": (dims[-1],), "norm.norm.bias": (dims[-1],)}
    out |= {"head.weight": (1, dims[-1]), "head.bias": (1,)}
    return out


def church_discriminator() -> Shapes:
    """``ViT_scale3_local_new_rp`` (155 keys)."""
    groups = [
        ("blocks_1", 2, 288, 16),
        ("blocks_11", 1, 288, 64),
        ("blocks_2", 3, 336, 32),
        ("blocks_3", 4, 384, 16),
        ("last_block", 1, 384, 0),
    ]
    return _three_scale_d((4096, 1024, 256), (288, 336, 384), ((288, 4), (48, 8), (48, 16)), groups)


def celeba_discriminator() -> Shapes:
    """``Celeba256_dis`` (136 keys with the Hz_fbank buffer)."""
    groups = [
        ("blocks_1", 3, 96, 0),
        ("blocks_2", 2, 192, 0),
        ("blocks_21", 1, 192, 0),
        ("blocks_3", 4, 384, 0),
        ("last_block", 1, 384, 0),
    ]
    out = _three_scale_d((16384, 4096, 1024), (96, 192, 384), ((96, 4), (96, 4), (192, 8)), groups)
    out["Hz_fbank"] = (4, 43)
    return out


def layouts() -> dict[str, tuple[Shapes, Shapes]]:
    """preset -> (generator layout, discriminator layout) for the authors' models."""
    return {
        "transgan_s": (v1_generator(1024, 8, 384, (5, 2, 2)), v1_discriminator(32)),
        "transgan_m": (v1_generator(1024, 8, 512, (5, 2, 2)), v1_discriminator(32)),
        "transgan_l": (v1_generator(1024, 8, 768, (5, 2, 2)), v1_discriminator(32)),
        "transgan_xl": (v1_generator(1024, 8, 1024, (5, 4, 2)), v1_discriminator(32)),
        "transgan_stl10": (v1_generator(1024, 12, 768, (5, 2, 2)), v1_discriminator(48)),
        "transgan_celeba64": (
            v1_generator(1024, 8, 1024, (5, 3, 3, 2)),
            v1_discriminator(64),
        ),
        "transgan2_cifar10": (
            custom_rp_generator(256, 8, 1024, (5, 4, 2), "ln"),
            scale2_discriminator(32, 2, 384, "ln"),
        ),
        "transgan2_stl10": (
            custom_rp_generator(512, 12, 1024, (7, 5, 3), "pn"),
            scale2_discriminator(48, 2, 384, "pn"),
        ),
        "transgan2_church256": (church_generator(), church_discriminator()),
        "transgan2_celebahq256": (celeba_generator(), celeba_discriminator()),
    }
