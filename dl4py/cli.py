"""The ``dl4py`` command line (also ``python -m dl4py``).

    dl4py validate CONFIG.json [...]          check configurations; exit code 1 if any is invalid
    dl4py summary CONFIG.json|MODEL.zip       layer table and parameter counts
    dl4py convert IN OUT                      DL4J JSON of any era -> current JSON; JSON <-> YAML by extension
    dl4py train CONFIG.json --data FILE --out MODEL.zip [--epochs E] [--batch B] [--labels-column K ...]
    dl4py score MODEL.zip --data FILE --out scores.csv [--samples S]
    dl4py warmup                              compile and cache the engine's kernels

Data files are CSV (numbers separated by commas; a header line is detected and skipped) or NumPy ``.npy``
(2-D). Exit codes: 0 success, 1 invalid input or failure (the message says what and where), 2 bad command line.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .exceptions import DL4JException

_YAML_SUFFIXES = (".yaml", ".yml")


class CommandError(Exception):
    """A failure reported to the user as ``dl4py <command>: error: <message>`` with exit code 1."""


# --------------------------------------------------------------------------------------------------------------
# reading configurations, models and data
# --------------------------------------------------------------------------------------------------------------
def read_configuration(path: str | os.PathLike) -> Any:
    """A MultiLayerConfiguration from DL4J JSON (any era), YAML (``.yaml``/``.yml``) or a model zip's
    ``configuration.json`` (``.zip``/``.bin``)."""
    from .nn.conf import MultiLayerConfiguration

    p = Path(path)
    if not p.is_file():
        raise CommandError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if suffix in (".zip", ".bin") and _is_zip(p):
        from .serde.modelzip import read_model_zip

        return MultiLayerConfiguration.fromJson(read_model_zip(p).configuration_json)
    text = p.read_bytes()
    if suffix in _YAML_SUFFIXES:
        return MultiLayerConfiguration.fromYaml(text.decode("utf-8", errors="replace"))
    return MultiLayerConfiguration.fromJson(text)


def _is_zip(path: Path) -> bool:
    import zipfile

    return zipfile.is_zipfile(path)


def load_model(path: str | os.PathLike) -> Any:
    from .nn.multilayer import MultiLayerNetwork

    p = Path(path)
    if not p.is_file():
        raise CommandError(f"{p}: no such file")
    return MultiLayerNetwork.load(p)


def _csv_has_header(path: Path, delimiter: str) -> bool:
    with open(path, newline="", encoding="utf-8") as f:
        for fields in csv.reader(f, delimiter=delimiter):
            if not any(x.strip() for x in fields):
                continue
            for field in fields:
                try:
                    float(field)
                except ValueError:
                    return True
            return False
    return False


def load_data(path: str | os.PathLike, labels_column: int | None = None, num_classes: int | None = None,
              delimiter: str = ",") -> tuple[np.ndarray, np.ndarray | None]:
    """(features float32 [N, F], one-hot labels [N, numClasses] or None) from a CSV or ``.npy`` file.

    ``labels_column`` (from 0; negative counts from the end) holds integer class indices, removed from the
    features; ``num_classes`` defaults to the largest label + 1. Errors name the file, line and column."""
    p = Path(path)
    if not p.is_file():
        raise CommandError(f"{p}: no such file")
    if p.suffix.lower() == ".npy":
        try:
            values = np.load(p, allow_pickle=False)
        except ValueError as exc:
            raise CommandError(f"{p}: not a NumPy .npy file of numbers ({exc})") from None
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2 or values.dtype.kind not in "fiub":
            raise CommandError(f"{p}: expected a 2-D numeric array, got shape {values.shape} dtype {values.dtype}")
        if values.shape[0] == 0:
            raise CommandError(f"{p}: no rows")
        values = values.astype(np.float64)
        bad = np.argwhere(~np.isfinite(values))
        if bad.size:
            r, c = bad[0]
            raise CommandError(f"{p}: row {r}, column {c}: non-finite value {values[r, c]}")
        return _split_labels(values, labels_column, num_classes, str(p), lambda r: f"row {r}")
    from .datasets import CSVRecordReaderDataSetIterator

    skip = 1 if _csv_has_header(p, delimiter) else 0
    it = CSVRecordReaderDataSetIterator(p, 1 << 30, -1, skipNumLines=skip, delimiter=delimiter)
    if not it.hasNext():
        raise CommandError(f"{p}: no data rows")
    values = it.next().getFeatures().astype(np.float64)
    it.close()
    return _split_labels(values, labels_column, num_classes, str(p), lambda r: f"data row {r + 1}")


def _split_labels(values: np.ndarray, labels_column: int | None, num_classes: int | None, name: str,
                  where: Any) -> tuple[np.ndarray, np.ndarray | None]:
    if labels_column is None:
        return values.astype(np.float32), None
    cols = values.shape[1]
    k = labels_column + cols if labels_column < 0 else labels_column
    if not 0 <= k < cols:
        raise CommandError(f"{name}: --labels-column {labels_column} is outside the {cols} columns of the file")
    if cols < 2:
        raise CommandError(f"{name}: a labels column leaves no feature columns")
    raw = values[:, k]
    classes = raw.astype(np.int64)
    wrong = np.flatnonzero((classes != raw) | (classes < 0))
    if wrong.size:
        r = int(wrong[0])
        raise CommandError(f"{name}, {where(r)}, column {k}: label {float(raw[r]):g} is not a class index (an integer >= 0)")
    n = int(num_classes) if num_classes is not None else int(classes.max()) + 1
    too_big = np.flatnonzero(classes >= n)
    if too_big.size:
        r = int(too_big[0])
        raise CommandError(f"{name}, {where(r)}, column {k}: label {classes[r]} is not below --num-classes {n}")
    labels = np.zeros((values.shape[0], n), dtype=np.float32)
    labels[np.arange(values.shape[0]), classes] = 1.0
    return np.delete(values, k, axis=1).astype(np.float32), labels


def _check_columns(net: Any, x: np.ndarray, data: str) -> None:
    n_in = getattr(net.getLayerWiseConfigurations().confs[0].layer, "n_in", None)
    if n_in and x.shape[1] != n_in:
        raise CommandError(f"{data}: {x.shape[1]} feature columns, but the network's first layer has nIn={n_in}")


def _output_layer_conf(net: Any) -> Any:
    from .nn.conf.layers import BaseOutputLayer, LossLayer

    last = net.getLayerWiseConfigurations().confs[-1].layer
    return last if isinstance(last, (BaseOutputLayer, LossLayer)) else None


# --------------------------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    status = 0
    for name in args.config:
        try:
            conf = read_configuration(name)
        except (DL4JException, CommandError, OSError, UnicodeDecodeError, ImportError) as exc:
            print(f"{name}: invalid: {exc}", file=sys.stderr)
            status = 1
            continue
        layers = ", ".join(type(c.layer).__name__ for c in conf.confs)
        print(f"{name}: valid: {len(conf.confs)} layer(s) ({layers}), {conf.numParams():,} parameters")
    return status


def cmd_summary(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.suffix.lower() in (".zip", ".bin") and path.is_file() and _is_zip(path):
        net = load_model(path)
        print(net.summary())
        state = net.updaterState().size
        print(f"Model zip: {path} ({path.stat().st_size:,} bytes); {net.numParams():,} parameters; updater state: "
              + (f"{state:,} values" if state else "none")
              + f"; iterations {net.getIterationCount()}, epochs {net.getEpochCount()}")
        return 0
    conf = read_configuration(path)
    print(conf.summary())
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    src, dst = Path(args.input), Path(args.output)
    conf = read_configuration(src)
    if dst.suffix.lower() in _YAML_SUFFIXES:
        text = conf.toYaml()
    elif dst.suffix.lower() == ".json":
        text = conf.toJson()
    else:
        raise CommandError(f"{dst}: the output extension must be .json, .yaml or .yml (it chooses the format)")
    if dst.exists() and dst.resolve() == src.resolve():
        raise CommandError(f"{dst}: the output would overwrite the input")
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    os.replace(tmp, dst)
    print(f"wrote {dst} ({'YAML' if dst.suffix.lower() in _YAML_SUFFIXES else 'JSON'}, {len(conf.confs)} layer(s))")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .datasets import NumpyDataSetIterator
    from .nn.multilayer import MultiLayerNetwork

    conf = read_configuration(args.config)
    net = MultiLayerNetwork(conf)
    net.init()
    x, y = load_data(args.data, args.labels_column, args.num_classes or _default_classes(net, args), args.delimiter)
    _check_columns(net, x, args.data)
    progress = not args.no_progress
    start = time.perf_counter()
    pretrainable = [i for i, layer in enumerate(net.getLayers()) if layer.isPretrainLayer()]
    pretrain_epochs = args.pretrain_epochs if args.pretrain_epochs is not None else args.epochs
    did_something = False
    if pretrainable and pretrain_epochs > 0:
        it = NumpyDataSetIterator(x, None, batchSize=args.batch, shuffle=True, seed=args.seed)
        for i in pretrainable:
            net.pretrainLayer(i, it, pretrain_epochs, progress=progress)
            print(f"pretrained layer {i} ({type(conf.confs[i].layer).__name__}) for {pretrain_epochs} epoch(s): "
                  f"last minibatch score {net.score():.6g}")
        did_something = True
    output = _output_layer_conf(net)
    if output is not None and args.epochs > 0:
        labels = x if args.reconstruct else y
        if labels is None:
            raise CommandError(
                f"the last layer ({type(output).__name__}) needs labels: pass --labels-column K (and --num-classes N), "
                "or --reconstruct to train the network to reproduce its input"
            )
        it = NumpyDataSetIterator(x, labels, batchSize=args.batch, shuffle=True, seed=args.seed + 1)
        net.fit(it, numEpochs=args.epochs, progress=progress)
        print(f"fitted {args.epochs} epoch(s): last minibatch score {net.score():.6g}; "
              f"score on the training data {net.score((x, labels)):.6g}")
        did_something = True
    if not did_something:
        raise CommandError("nothing to train: no pretrainable layer and no output layer (or zero epochs)")
    net.save(args.out)
    print(f"wrote {args.out} ({net.numParams():,} parameters, {time.perf_counter() - start:.1f} s)")
    return 0


def _default_classes(net: Any, args: argparse.Namespace) -> int | None:
    """Without --num-classes, labels are one-hot over the output layer's nOut (when there is one)."""
    if args.labels_column is None:
        return None
    output = _output_layer_conf(net)
    n_out = getattr(output, "n_out", 0) if output is not None else 0
    return n_out or None


def _scoring_layer(net: Any, index: int | None) -> tuple[int | None, Any]:
    from .nn.layers.autoencoder import AutoEncoderEngine
    from .nn.layers.variational import VariationalAutoencoderEngine

    layers = net.getLayers()
    kinds = (VariationalAutoencoderEngine, AutoEncoderEngine)
    if index is not None:
        if not 0 <= index < len(layers):
            raise CommandError(f"--layer {index} is out of range: the network has {len(layers)} layers")
        if not isinstance(layers[index], kinds):
            raise CommandError(f"--layer {index} is {layers[index].describe()}, not a VAE or AutoEncoder layer")
        return index, layers[index]
    for i, layer in enumerate(layers):
        if isinstance(layer, kinds):
            return i, layer
    return None, None


def score_rows(net: Any, x: np.ndarray, y: np.ndarray | None = None, samples: int = 16, seed: int = 12345,
               layer: int | None = None, batch: int = 1024) -> tuple[str, np.ndarray]:
    """(score name, per-row scores [N]) for ``x``: a VAE's reconstruction log-probability (``log_probability``,
    higher = more normal) or, for a VAE with a loss function, its ``reconstruction_error``; an AutoEncoder
    layer's ``reconstruction_mse``; for a network without either, its per-example loss against the labels
    (``loss``) or, when it outputs as many values as it takes in, against the input (``reconstruction_error``)."""
    from .nn.layers.variational import VariationalAutoencoderEngine

    index, target = _scoring_layer(net, layer)
    rng = np.random.default_rng(seed)
    out = np.empty(x.shape[0], dtype=np.float64)
    if target is not None:
        for start in range(0, x.shape[0], batch):
            xb = x[start:start + batch]
            h = xb if index == 0 else net.activateSelectedLayers(0, index - 1, xb)
            if isinstance(target, VariationalAutoencoderEngine):
                if target.hasLossFunction():
                    name, rows = "reconstruction_error", target.reconstructionError(h)
                else:
                    noise = rng.standard_normal((samples, h.shape[0], target.n_out)).astype(target.dtype)
                    name, rows = "log_probability", target.reconstructionLogProbability(h, samples, noise)
            else:
                r = target.reconstruct(h)
                name, rows = "reconstruction_mse", np.mean((np.asarray(h, np.float64) - r) ** 2, axis=1)
            out[start:start + batch] = np.asarray(rows, dtype=np.float64).reshape(-1)
        return name, out
    output = _output_layer_conf(net)
    if output is None:
        raise CommandError("the network has no VAE or AutoEncoder layer and no output layer: nothing to score")
    if y is not None:
        return "loss", net.scoreExamples((x, y), False).reshape(-1).astype(np.float64)
    if getattr(output, "n_out", None) == x.shape[1]:
        return "reconstruction_error", net.scoreExamples((x, x), False).reshape(-1).astype(np.float64)
    raise CommandError(
        "the network has no VAE or AutoEncoder layer; to score with its loss pass --labels-column K "
        f"(its output has {getattr(output, 'n_out', '?')} values, the data {x.shape[1]} columns)"
    )


def cmd_score(args: argparse.Namespace) -> int:
    if args.samples <= 0:
        raise CommandError(f"--samples must be > 0, got {args.samples}")
    net = load_model(args.model)
    num_classes = args.num_classes
    if args.labels_column is not None and num_classes is None:
        output = _output_layer_conf(net)
        num_classes = getattr(output, "n_out", None) if output is not None else None
    x, y = load_data(args.data, args.labels_column, num_classes, args.delimiter)
    _check_columns(net, x, args.data)
    name, scores = score_rows(net, x, y, args.samples, args.seed, args.layer)
    out = Path(args.out)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["row", name])
        for i, s in enumerate(scores):
            writer.writerow([i, repr(float(s))])
    os.replace(tmp, out)
    sense = "higher = more normal" if name == "log_probability" else "lower = more normal"
    finite = scores[np.isfinite(scores)]
    stats = f"mean {finite.mean():.6g}, min {finite.min():.6g}, max {finite.max():.6g}" if finite.size else "no finite scores"
    print(f"wrote {out}: {scores.shape[0]} rows of {name} ({sense}); {stats}")
    return 0


def cmd_warmup(args: argparse.Namespace) -> int:
    import dl4py

    timings = dl4py.warmup(verbose=True, typical=args.typical)
    print(f"total {sum(timings.values()):.2f} s")
    return 0


# --------------------------------------------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="dl4py", description="Deeplearning4j configurations and autoencoders in Python.",
        epilog="Exit codes: 0 success, 1 invalid input or failure, 2 bad command line.")
    parser.add_argument("--version", action="version", version=f"dl4py {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("validate", help="check DL4J configuration files (JSON, YAML or a model zip)")
    p.add_argument("config", nargs="+", help="configuration file(s)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("summary", help="layer table and parameter counts of a configuration or model zip")
    p.add_argument("file", help="CONFIG.json / CONFIG.yaml / MODEL.zip")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("convert", help="DL4J JSON of any era -> current JSON; JSON <-> YAML by the extensions")
    p.add_argument("input", help="IN.json / IN.yaml / MODEL.zip (its configuration)")
    p.add_argument("output", help="OUT.json or OUT.yaml")
    p.set_defaults(func=cmd_convert)

    def data_options(q: argparse.ArgumentParser) -> None:
        q.add_argument("--data", required=True, help="CSV or .npy file, one example per row")
        q.add_argument("--labels-column", type=int, default=None,
                       help="column holding integer class labels (from 0; -1 = last); removed from the features")
        q.add_argument("--num-classes", type=int, default=None,
                       help="number of classes (default: the output layer's nOut, else the largest label + 1)")
        q.add_argument("--delimiter", default=",", help="CSV field separator (default ,)")
        q.add_argument("--seed", type=int, default=12345, help="shuffling / sampling seed (default 12345)")

    p = sub.add_parser("train", help="pretrain the pretrainable layers, then fit an output layer; save a model zip")
    p.add_argument("config", help="CONFIG.json / CONFIG.yaml")
    data_options(p)
    p.add_argument("--epochs", type=int, default=10, help="epochs of fitting (and of pretraining, default 10)")
    p.add_argument("--pretrain-epochs", type=int, default=None, help="epochs of pretraining per layer (default --epochs)")
    p.add_argument("--batch", type=int, default=32, help="minibatch size (default 32)")
    p.add_argument("--reconstruct", action="store_true",
                   help="fit the output layer to reproduce the input (labels = features), e.g. a dense autoencoder")
    p.add_argument("--out", required=True, help="model zip to write")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("score", help="per-row anomaly scores to CSV (VAE log-probability, reconstruction error)")
    p.add_argument("model", help="MODEL.zip")
    data_options(p)
    p.add_argument("--samples", type=int, default=16, help="samples for a VAE's reconstruction probability (16)")
    p.add_argument("--layer", type=int, default=None, help="index of the VAE/AutoEncoder layer (default: the first)")
    p.add_argument("--out", required=True, help="CSV file to write (columns: row, score)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("warmup", help="compile and cache the engine's kernels (numba)")
    p.add_argument("--typical", action="store_true",
                   help="only the kernels of the typical networks (VAE, AutoEncoder, MLP; float32): seconds")
    p.set_defaults(func=cmd_warmup)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    for name in ("epochs", "batch", "pretrain_epochs"):
        value = getattr(args, name, None)
        if value is not None and (value < 0 or (name == "batch" and value == 0)):
            parser.error(f"--{name.replace('_', '-')} must be {'> 0' if name == 'batch' else '>= 0'}, got {value}")
    try:
        return int(args.func(args) or 0)
    except CommandError as exc:
        print(f"dl4py {args.command}: error: {exc}", file=sys.stderr)
    except (DL4JException, OSError, UnicodeDecodeError, ImportError) as exc:
        print(f"dl4py {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"dl4py {args.command}: interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
