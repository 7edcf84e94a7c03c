"""A readable table of a network configuration (layers, sizes, parameter counts)."""
from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from .layers import FeedForwardLayer

if TYPE_CHECKING:
    from . import MultiLayerConfiguration

_SHAPES_WIDTH = 48


def configuration_summary(conf: "MultiLayerConfiguration") -> str:
    """DL4J-style summary: one row per layer (name and type, nIn/nOut, parameter count, parameter shapes)."""
    header = ("#", "LayerName (LayerType)", "nIn,nOut", "TotalParams", "ParamsShape")
    rows: list[tuple[str, ...]] = []
    total = 0
    for i, c in enumerate(conf.confs):
        layer = c.layer
        sizes = f"{layer.n_in},{layer.n_out}" if isinstance(layer, FeedForwardLayer) else "-"
        shapes = layer.paramShapes()
        count = sum(a * b for a, b in shapes.values())
        total += count
        shape_text = ", ".join(f"{k}:{{{a},{b}}}" for k, (a, b) in shapes.items()) or "-"
        lines = textwrap.wrap(shape_text, _SHAPES_WIDTH) or ["-"]
        rows.append((str(i), f"{layer.layer_name} ({type(layer).__name__})", sizes, f"{count:,}", lines[0]))
        rows.extend(("", "", "", "", more) for more in lines[1:])
    widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()

    rule = "=" * (sum(widths) + 2 * (len(widths) - 1))
    out = [rule, fmt(header), rule, *(fmt(r) for r in rows), "-" * len(rule)]
    out.append(f"Total Parameters:  {total:,}")
    out.append(f"Trainable Parameters:  {total:,}")
    out.append("Frozen Parameters:  0")
    out.append(f"Data type: {conf.data_type.value}")
    out.append(rule)
    return "\n".join(out)
