"""Running a fully convolutional image network tile by tile, so memory stays bounded.

The image is cut into ``tile`` x ``tile`` tiles that overlap by ``overlap`` pixels; each tile is
run with ``context`` extra pixels on every side (cut off again afterwards), and overlapping
outputs are blended with linear ramps. When ``context`` reaches the network's receptive radius,
every output pixel sees exactly what it sees in one whole-image pass, so the tiled result equals
the whole-image result (up to float rounding). ``align`` snaps every window to multiples of the
network's stride (pad the image to such a multiple first), so strided layers sample the same
grid in a tile as in the whole image. Used by ``upscale`` (``scale`` > 1) and ``translate``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ganforge.errors import GanforgeError


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile starts along one axis: stride tile - overlap, the last tile flush with the end."""
    if length <= tile:
        return [0]
    stride = max(1, tile - overlap)
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def blend_ramp(length: int, ramp: int, rise: bool, fall: bool) -> torch.Tensor:
    """1-D blending weight: linear ramps of ``ramp`` pixels on the inner sides, 1 elsewhere."""
    w = torch.ones(length)
    n = min(ramp, length)
    if n > 0:
        up = (torch.arange(n) + 0.5) / n  # never 0: every pixel keeps some weight
        if rise:
            w[:n] = torch.minimum(w[:n], up)
        if fall:
            w[length - n :] = torch.minimum(w[length - n :], up.flip(0))
    return w


@torch.no_grad()
def run_tiled(
    network: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    tile: int,
    overlap: int,
    context: int,
    scale: int = 1,
    align: int = 1,
) -> torch.Tensor:
    """``network`` over (1, C, H, W) ``x`` tile by tile -> (1, C', H*scale, W*scale), clamped
    to [-1, 1]. ``tile`` 0 (or an image no larger than one tile) runs the whole image at once."""
    h, w = x.shape[-2:]
    if tile < 0 or overlap < 0 or context < 0:
        raise GanforgeError("--tile, --overlap and --context must be >= 0")
    if tile == 0 or (h <= tile and w <= tile):
        return network(x).clamp_(-1, 1)
    if overlap >= tile:
        raise GanforgeError(f"--overlap {overlap} must be smaller than --tile {tile}")
    s = scale
    out = weight = None
    for y0 in tile_starts(h, tile, overlap):
        for x0 in tile_starts(w, tile, overlap):
            th, tw = min(tile, h - y0), min(tile, w - x0)
            top, left = _down(max(0, y0 - context), align), _down(max(0, x0 - context), align)
            bottom = min(h, _up(y0 + th + context, align))
            right = min(w, _up(x0 + tw + context, align))
            piece = network(x[..., top:bottom, left:right])[0]
            if out is None:  # the network may change the channel count (grey -> colour)
                out = torch.zeros(piece.shape[0], h * s, w * s, device=x.device)
                weight = torch.zeros(1, h * s, w * s, device=x.device)
            oy, ox = (y0 - top) * s, (x0 - left) * s
            piece = piece[:, oy : oy + th * s, ox : ox + tw * s]
            wy = blend_ramp(th * s, overlap * s, y0 > 0, y0 + th < h).to(x.device)
            wx = blend_ramp(tw * s, overlap * s, x0 > 0, x0 + tw < w).to(x.device)
            tile_weight = wy[:, None] * wx[None, :]
            region = (slice(None), slice(y0 * s, (y0 + th) * s), slice(x0 * s, (x0 + tw) * s))
            out[region] += piece * tile_weight
            weight[region] += tile_weight
    return out.div_(weight).clamp_(-1, 1)[None]


def _down(value: int, multiple: int) -> int:
    return value - value % multiple


def _up(value: int, multiple: int) -> int:
    return value + (-value % multiple)
