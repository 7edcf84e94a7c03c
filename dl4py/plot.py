"""Plots for autoencoders (matplotlib, through the ``plot`` extra: ``pip install 'dl4py[plot]'``).

Every function draws on a new :class:`matplotlib.figure.Figure` (no pyplot, no global state, no display
needed: works headless), saves it to ``path`` when one is given (PNG, SVG, PDF... by the extension) and returns
the figure. matplotlib is imported when a function is first called; without it a
:class:`~dl4py.exceptions.MissingDependencyException` says what to install.

* :func:`latent_scatter` — examples in latent space (the mean of q(z|x)), coloured by label;
* :func:`latent_grid` — what a 2-D VAE decodes over a grid of latent values (DL4J's VaeMNIST2dPlots);
* :func:`reconstructions` — inputs above their reconstructions;
* :func:`image_grid` — a grid of examples with titles (e.g. the most and least anomalous);
* :func:`score_histogram` — anomaly scores with a threshold;
* :func:`training_curve` — score per iteration (a ``CollectScoresListener``) or per epoch.
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .exceptions import DL4JInvalidInputException, MissingDependencyException

__all__ = [
    "latent_scatter",
    "latent_grid",
    "latent_space_grid",
    "reconstructions",
    "image_grid",
    "score_histogram",
    "training_curve",
]


def _figure(figsize: tuple[float, float]):
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingDependencyException(
            "dl4py.plot needs matplotlib, which is not installed: pip install 'dl4py[plot]' (or pip install matplotlib)"
        ) from exc
    return Figure(figsize=figsize)


def _finish(fig: Any, path: str | os.PathLike | None, dpi: int) -> Any:
    if path is not None:
        directory = os.path.dirname(os.fspath(path))
        if directory:
            os.makedirs(directory, exist_ok=True)
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return fig


def _array2d(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise DL4JInvalidInputException(f"{name}: expected a 2-D array [examples, values], got shape {arr.shape}")
    return arr


def _image_shape(width: int, image_shape: Sequence[int] | None) -> tuple[int, int]:
    if image_shape is not None:
        h, w = (int(v) for v in image_shape)
        if h * w != width:
            raise DL4JInvalidInputException(f"image_shape {tuple(image_shape)} does not hold {width} values")
        return h, w
    side = math.isqrt(width)
    return (side, side) if side * side == width else (1, width)


# ----------------------------------------------------------------------------------------------------------------
# latent space
# ----------------------------------------------------------------------------------------------------------------
def latent_scatter(z: Any, labels: Any = None, path: str | os.PathLike | None = None, *, dims: tuple[int, int] = (0, 1),
                   title: str = "Latent space", point_size: float = 8.0, dpi: int = 100) -> Any:
    """Scatter of latent values ``z`` [N, nOut] (dimensions ``dims``), coloured by ``labels`` [N] (class indices,
    or one-hot rows) with a legend. ``z`` is typically ``vae.activate(x)``, the mean of q(z|x)."""
    arr = _array2d(z, "latent_scatter: z")
    if arr.shape[1] < 2:
        raise DL4JInvalidInputException(f"latent_scatter: z needs at least 2 dimensions, got {arr.shape[1]}")
    a, b = dims
    if not (0 <= a < arr.shape[1] and 0 <= b < arr.shape[1]):
        raise DL4JInvalidInputException(f"latent_scatter: dims {dims} out of range for {arr.shape[1]} latent dimensions")
    fig = _figure((6.5, 5.5))
    ax = fig.add_subplot()
    if labels is None:
        ax.scatter(arr[:, a], arr[:, b], s=point_size, alpha=0.7)
    else:
        lab = np.asarray(labels)
        if lab.ndim == 2:
            lab = lab.argmax(axis=1)
        if lab.shape[0] != arr.shape[0]:
            raise DL4JInvalidInputException(f"latent_scatter: {lab.shape[0]} labels for {arr.shape[0]} points")
        classes = np.unique(lab)
        from matplotlib import colormaps

        palette = colormaps["tab10" if len(classes) <= 10 else "tab20"]
        for k, c in enumerate(classes):
            sel = lab == c
            ax.scatter(arr[sel, a], arr[sel, b], s=point_size, alpha=0.75, color=palette(k % palette.N), label=str(c))
        ax.legend(title="label", markerscale=2.5, fontsize=8, loc="best")
    ax.set_xlabel(f"z[{a}]")
    ax.set_ylabel(f"z[{b}]")
    ax.set_title(title)
    return _finish(fig, path, dpi)


def latent_space_grid(vmin: float = -5.0, vmax: float = 5.0, steps: int = 16) -> np.ndarray:
    """[steps², 2] latent points on a regular grid over [vmin, vmax]²; row ``i·steps + j`` holds
    (x_j, y_i) (DL4J's ``getLatentSpaceGrid`` layout)."""
    if steps < 2:
        raise DL4JInvalidInputException(f"latent_space_grid: steps must be >= 2, got {steps}")
    line = np.linspace(vmin, vmax, steps)
    xs, ys = np.meshgrid(line, line)
    return np.stack([xs.reshape(-1), ys.reshape(-1)], axis=1)


def _decoder(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    if callable(getattr(model, "generateAtMeanGivenZ", None)):
        return model.generateAtMeanGivenZ
    if callable(getattr(model, "getLayers", None)):
        for layer in model.getLayers():
            if callable(getattr(layer, "generateAtMeanGivenZ", None)):
                return layer.generateAtMeanGivenZ
        raise DL4JInvalidInputException("latent_grid: the network has no VariationalAutoencoder layer")
    if callable(model):
        return model
    raise DL4JInvalidInputException(
        "latent_grid: expected a VAE layer, a network with one, or a function decode(z) -> x; "
        f"got {type(model).__name__}"
    )


def latent_grid(model: Any, path: str | os.PathLike | None = None, *, vmin: float = -5.0, vmax: float = 5.0,
                steps: int = 16, image_shape: Sequence[int] | None = None, title: str | None = None,
                dpi: int = 100) -> Any:
    """Decode a ``steps`` × ``steps`` grid of 2-D latent values over [vmin, vmax]² and tile the decoded images
    (z[0] grows to the right, z[1] upwards), as DL4J's VaeMNIST2dPlots. ``model``: a VAE layer
    (``generateAtMeanGivenZ``), a network containing one, or any function ``decode(z) -> x``. ``image_shape``
    defaults to a square."""
    decode = _decoder(model)
    grid = latent_space_grid(vmin, vmax, steps)
    decoded = _array2d(decode(grid.astype(np.float32)), "latent_grid: decoded values")
    if decoded.shape[0] != grid.shape[0]:
        raise DL4JInvalidInputException(f"latent_grid: the decoder returned {decoded.shape[0]} rows for {grid.shape[0]}")
    h, w = _image_shape(decoded.shape[1], image_shape)
    canvas = np.zeros((steps * h, steps * w))
    for i in range(steps):  # i: z[1] index (bottom row of the picture = smallest z[1])
        for j in range(steps):
            tile = decoded[i * steps + j].reshape(h, w)
            r = steps - 1 - i
            canvas[r * h:(r + 1) * h, j * w:(j + 1) * w] = tile
    fig = _figure((7.0, 7.0))
    ax = fig.add_subplot()
    ax.imshow(canvas, cmap="gray", extent=(vmin, vmax, vmin, vmax), interpolation="nearest")
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title(title or f"Decoded latent space over [{vmin:g}, {vmax:g}]²")
    return _finish(fig, path, dpi)


# ----------------------------------------------------------------------------------------------------------------
# examples
# ----------------------------------------------------------------------------------------------------------------
def _mosaic(images: np.ndarray, h: int, w: int, ncols: int, gap_x: int, gap_y: int) -> np.ndarray:
    """One canvas holding the images in a grid (NaN between them), top gap ``gap_y`` above each row."""
    n = images.shape[0]
    nrows = -(-n // ncols)
    canvas = np.full((nrows * (h + gap_y), ncols * (w + gap_x) - gap_x), np.nan)
    for k in range(n):
        r, c = divmod(k, ncols)
        top, left = r * (h + gap_y) + gap_y, c * (w + gap_x)
        canvas[top:top + h, left:left + w] = images[k].reshape(h, w)
    return canvas


def _show_mosaic(fig: Any, images: np.ndarray, h: int, w: int, ncols: int, titles: Sequence[str] | None, cmap: str,
                 vmin: float | None = None, vmax: float | None = None, top: float = 1.0) -> Any:
    from matplotlib import colormaps

    gap_x = max(1, w // 8)
    gap_y = max(1, (h * 3) // 10) if titles is not None else gap_x
    canvas = _mosaic(images, h, w, ncols, gap_x, gap_y)
    colours = colormaps[cmap].with_extremes(bad="white")
    ax = fig.add_axes((0.0, 0.0, 1.0, top))
    ax.imshow(canvas, cmap=colours, vmin=vmin, vmax=vmax, interpolation="nearest", aspect="equal")
    ax.axis("off")
    if titles is not None:
        for k, text in enumerate(titles[: images.shape[0]]):
            r, c = divmod(k, ncols)
            ax.text(c * (w + gap_x) + (w - 1) / 2, r * (h + gap_y) + gap_y - 0.6, str(text), ha="center",
                    va="bottom", fontsize=7)
    return ax


def image_grid(images: Any, path: str | os.PathLike | None = None, *, image_shape: Sequence[int] | None = None,
               ncols: int = 8, titles: Sequence[str] | None = None, suptitle: str | None = None, cmap: str = "gray",
               dpi: int = 100) -> Any:
    """Examples [N, features] drawn as images in a grid of ``ncols`` columns, each with its title (e.g. its
    anomaly score); one shared grey scale over all images."""
    arr = _array2d(images, "image_grid: images")
    h, w = _image_shape(arr.shape[1], image_shape)
    n = arr.shape[0]
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = _figure((max(2.0, 1.0 * ncols * w / max(h, w)), 1.15 * nrows + (0.4 if suptitle else 0.0)))
    if suptitle:
        fig.suptitle(suptitle)
    _show_mosaic(fig, arr, h, w, ncols, titles, cmap, top=0.92 if suptitle else 1.0)
    return _finish(fig, path, dpi)


def reconstructions(inputs: Any, reconstructed: Any, path: str | os.PathLike | None = None, *, n: int = 10,
                    image_shape: Sequence[int] | None = None, title: str = "Inputs (top) and reconstructions (bottom)",
                    dpi: int = 100) -> Any:
    """The first ``n`` inputs (top row) above their reconstructions (bottom row), on one grey scale, e.g. ``x``
    and ``vae.generateAtMeanGivenZ(vae.activate(x))`` or ``net.output(x)`` of an autoencoder network."""
    x = _array2d(inputs, "reconstructions: inputs")
    r = _array2d(reconstructed, "reconstructions: reconstructed")
    if x.shape != r.shape:
        raise DL4JInvalidInputException(f"reconstructions: inputs {x.shape} and reconstructions {r.shape} differ in shape")
    n = max(1, min(n, x.shape[0]))
    h, w = _image_shape(x.shape[1], image_shape)
    lo, hi = float(min(x[:n].min(), r[:n].min())), float(max(x[:n].max(), r[:n].max()))
    fig = _figure((max(2.0, 1.0 * n * w / max(h, w)), 2.6))
    fig.suptitle(title)
    _show_mosaic(fig, np.concatenate([x[:n], r[:n]]), h, w, n, ["input"] * n + ["reconstruction"] * n, "gray", lo, hi,
                 top=0.92)
    return _finish(fig, path, dpi)


# ----------------------------------------------------------------------------------------------------------------
# scores
# ----------------------------------------------------------------------------------------------------------------
def score_histogram(scores: Any, path: str | os.PathLike | None = None, *, threshold: float | None = None,
                    contamination: float | None = None, higher_is_normal: bool = True, bins: int = 50,
                    xlabel: str = "reconstruction log-probability", title: str = "Anomaly scores",
                    dpi: int = 100) -> Any:
    """Histogram of per-example scores with a threshold line. ``threshold`` is drawn as given; with
    ``contamination`` (a fraction in (0, 0.5]) it is the score that flags that fraction as anomalous — the low end
    when ``higher_is_normal`` (log-probabilities), the high end otherwise (reconstruction errors)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    s = s[np.isfinite(s)]
    if s.size == 0:
        raise DL4JInvalidInputException("score_histogram: no finite scores")
    if threshold is None and contamination is not None:
        if not 0.0 < contamination <= 0.5:
            raise DL4JInvalidInputException(f"score_histogram: contamination must be in (0, 0.5], got {contamination}")
        q = 100.0 * contamination if higher_is_normal else 100.0 * (1.0 - contamination)
        threshold = float(np.percentile(s, q))
    fig = _figure((6.5, 3.8))
    ax = fig.add_subplot()
    ax.hist(s, bins=bins, color="tab:blue", alpha=0.85)
    if threshold is not None:
        flagged = int(np.sum(s < threshold) if higher_is_normal else np.sum(s > threshold))
        ax.axvline(threshold, color="tab:red", linestyle="--",
                   label=f"threshold {threshold:.4g} ({flagged} of {s.size} flagged)")
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("examples")
    ax.set_title(title)
    return _finish(fig, path, dpi)


def _curve(source: Any) -> tuple[np.ndarray, np.ndarray, str]:
    if hasattr(source, "getScoreVsEpoch"):  # EarlyStoppingResult
        source = source.getScoreVsEpoch()
    if hasattr(source, "iterations") and hasattr(source, "scores"):  # CollectScoresListener
        return np.asarray(source.iterations, float), np.asarray(source.scores, float), "iteration"
    if hasattr(source, "results") and isinstance(getattr(source, "results"), list):  # EvaluativeListener
        pts = [(i, v) for i, _, v in source.results if isinstance(v, (int, float, np.floating))]
        return np.array([p[0] for p in pts], float), np.array([p[1] for p in pts], float), "iteration"
    if isinstance(source, Mapping):
        keys = sorted(source)
        return np.asarray(keys, float), np.asarray([source[k] for k in keys], float), "epoch"
    if isinstance(source, tuple) and len(source) == 2:
        return np.asarray(source[0], float).reshape(-1), np.asarray(source[1], float).reshape(-1), "iteration"
    y = np.asarray(source, float).reshape(-1)
    return np.arange(y.size, dtype=float), y, "iteration"


def training_curve(source: Any, path: str | os.PathLike | None = None, *, held_out: Any = None,
                   smooth: int | None = None, log_scale: bool = False, ylabel: str = "score",
                   held_out_label: str = "held-out", title: str = "Training curve", dpi: int = 100) -> Any:
    """Score against iteration (or epoch). ``source``: a ``CollectScoresListener``, a list of scores, an
    ``(iterations, scores)`` pair, a ``{epoch: score}`` dict or an ``EarlyStoppingResult`` (its score per epoch).
    ``held_out`` (optional): an ``EvaluativeListener`` — drawn against the same iterations, on a second y axis —
    or per-epoch scores (a dict, an ``EarlyStoppingResult``) — drawn in a panel below. ``smooth=k`` adds a moving
    average over k points."""
    x, y, xlabel = _curve(source)
    if y.size == 0:
        raise DL4JInvalidInputException("training_curve: no scores to plot")
    if x.shape != y.shape:
        raise DL4JInvalidInputException(f"training_curve: {x.size} x values for {y.size} scores")
    held = _curve(held_out) if held_out is not None else None
    below = held is not None and held[2] != xlabel
    fig = _figure((7.0, 6.0 if below else 4.0))
    axes = fig.subplots(2, 1, squeeze=False)[:, 0] if below else [fig.add_subplot()]
    ax = axes[0]
    ax.plot(x, y, color="tab:blue", alpha=0.45 if smooth else 1.0, linewidth=1.0, label="training")
    if smooth and smooth > 1 and y.size >= smooth:
        kernel = np.ones(smooth) / smooth
        ax.plot(x[smooth - 1:], np.convolve(y, kernel, mode="valid"), color="tab:blue", linewidth=2.0,
                label=f"moving average ({smooth})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log_scale:
        ax.set_yscale("log")
    handles, labels = ax.get_legend_handles_labels()
    if held is not None:
        hx, hy, hlabel = held
        target = axes[1] if below else ax.twinx()
        lines = target.plot(hx, hy, "o-", color="tab:orange", label=held_out_label)
        target.set_ylabel(held_out_label)
        if below:
            target.set_xlabel(hlabel)
            target.legend(fontsize=8)
        else:
            handles, labels = handles + lines, labels + [held_out_label]
    ax.legend(handles, labels, fontsize=8)
    ax.set_title(title)
    if below:
        fig.tight_layout()
    return _finish(fig, path, dpi)
