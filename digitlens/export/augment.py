"""Training-time augmentation aimed at what photos and our own crop pipeline do to digits.

Real crops differ from MNIST in slant, size, centring, stroke width, blur and contrast;
each transform below covers one of those, applied per sample on the whole batch at once
(tensor ops only, so it costs little next to the network).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    rotate_deg: float = 12.0  # handwriting slant and a tilted camera
    scale: tuple[float, float] = (0.85, 1.12)  # crops that are a little small or overfill the 20px box
    shear: float = 0.25  # italic writing
    shift_px: float = 2.5  # centring by centre of mass is never exact on real crops
    p_thick: float = 0.25  # thick pens and markers
    p_thin: float = 0.15  # fine pens
    p_blur: float = 0.2  # defocus and motion
    contrast: tuple[float, float] = (0.65, 1.0)  # faint ink: stroke peak below 1
    noise_std: float = 0.04  # sensor noise left inside the crop
    p_lowres: float = 0.0  # small digits in a photo: detail lost below the 20px box (train --lowres; off by default)
    lowres_px: tuple[int, int] = (9, 16)  # ...rendered at this many pixels square, then scaled back up


def augment(x: torch.Tensor, gen: torch.Generator, cfg: AugmentConfig = AugmentConfig()) -> torch.Tensor:
    """x: [B, 1, 28, 28] in 0..1 -> same shape, randomly distorted per sample."""
    b = x.shape[0]

    def u(lo: float, hi: float, n: int = b) -> torch.Tensor:
        return torch.rand(n, generator=gen) * (hi - lo) + lo

    ang = u(-cfg.rotate_deg, cfg.rotate_deg) * math.pi / 180
    sc = u(*cfg.scale)
    sh = u(-cfg.shear, cfg.shear)
    tx = u(-cfg.shift_px, cfg.shift_px) * 2 / 28
    ty = u(-cfg.shift_px, cfg.shift_px) * 2 / 28
    cos, sin = torch.cos(ang), torch.sin(ang)
    # inverse map output->input: rotation @ shear, divided by scale
    a11 = (cos - sin * sh) / sc
    a12 = (-sin) / sc
    a21 = (sin + cos * sh) / sc
    a22 = cos / sc
    theta = torch.stack([torch.stack([a11, a12, tx], 1), torch.stack([a21, a22, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    r = torch.rand(b, generator=gen)
    thick = (r < cfg.p_thick).view(b, 1, 1, 1)
    thin = ((r >= cfg.p_thick) & (r < cfg.p_thick + cfg.p_thin)).view(b, 1, 1, 1)
    dil = F.max_pool2d(F.pad(x, (0, 1, 0, 1)), 2, stride=1)
    ero = -F.max_pool2d(F.pad(-x, (0, 1, 0, 1)), 2, stride=1)
    x = torch.where(thick, dil, torch.where(thin, 0.5 * (x + ero), x))

    blur = (torch.rand(b, generator=gen) < cfg.p_blur).view(b, 1, 1, 1)
    k = torch.tensor([0.25, 0.5, 0.25])
    k2 = (k[:, None] * k[None, :]).view(1, 1, 3, 3)
    x = torch.where(blur, F.conv2d(x, k2, padding=1), x)

    if cfg.p_lowres > 0:
        sizes = torch.randint(cfg.lowres_px[0], cfg.lowres_px[1] + 1, (b,), generator=gen)
        sel = torch.rand(b, generator=gen) < cfg.p_lowres
        x = x.clone()
        for size in torch.unique(sizes[sel]).tolist():
            idx = sel & (sizes == size)
            small = F.interpolate(x[idx], size=(size, size), mode="area")
            up = F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)
            x[idx] = up / up.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-3)  # the crop pipeline rescales ink to ~1

    peak = u(*cfg.contrast).view(b, 1, 1, 1)
    x = x * peak + torch.randn(x.shape, generator=gen) * cfg.noise_std * torch.rand(b, 1, 1, 1, generator=gen)
    return x.clamp_(0.0, 1.0)
