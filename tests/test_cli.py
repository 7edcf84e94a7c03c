"""The ``dl4py`` command line: exit codes, messages, written files (a few commands through a real subprocess,
``python -m dl4py``, the rest through ``dl4py.cli.main`` in-process)."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dl4py.cli import main
from dl4py.learning.config import Adam
from dl4py.lossfunctions import LossFunctions
from dl4py.nn.conf import MultiLayerConfiguration, NeuralNetConfiguration
from dl4py.nn.conf.layers import AutoEncoder, DenseLayer, OutputLayer
from dl4py.nn.conf.layers.variational import BernoulliReconstructionDistribution, VariationalAutoencoder
from dl4py.nn.multilayer import MultiLayerNetwork

from .conftest import REPO_ROOT

LF = LossFunctions.LossFunction


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return subprocess.run([sys.executable, "-m", "dl4py", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def _vae_conf() -> MultiLayerConfiguration:
    return (NeuralNetConfiguration.Builder().seed(11).updater(Adam(1e-2)).list()
            .layer(VariationalAutoencoder.Builder().activation("tanh").encoderLayerSizes(16).decoderLayerSizes(16)
                   .reconstructionDistribution(BernoulliReconstructionDistribution("sigmoid")).nIn(10).nOut(2).build())
            .build())


def _sda_conf() -> MultiLayerConfiguration:
    return (NeuralNetConfiguration.Builder().seed(11).updater(Adam(1e-2)).list()
            .layer(AutoEncoder.Builder().nIn(10).nOut(6).activation("sigmoid").lossFunction(LF.XENT).build())
            .layer(OutputLayer.Builder(LF.MCXENT).nIn(6).nOut(3).activation("softmax").build())
            .build())


def _binary(n=80, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 10)) < np.linspace(0.1, 0.9, 10)).astype(np.float32)


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "vae.json").write_text(_vae_conf().toJson())
    (tmp_path / "sda.json").write_text(_sda_conf().toJson())
    x = _binary()
    with open(tmp_path / "x.csv", "w") as f:
        f.write(",".join(f"f{i}" for i in range(10)) + "\n")  # a header line (detected and skipped)
        for row in x:
            f.write(",".join(f"{v:g}" for v in row) + "\n")
    labels = (x[:, :3].sum(axis=1) % 3).astype(np.float32)
    np.save(tmp_path / "xy.npy", np.column_stack([labels, x]))
    return tmp_path


def test_validate_exit_codes_and_located_errors(files):
    ok = run_cli("validate", str(files / "vae.json"), str(files / "sda.json"))
    assert ok.returncode == 0, ok.stderr
    assert "vae.json: valid: 1 layer(s) (VariationalAutoencoder)" in ok.stdout
    assert "sda.json: valid: 2 layer(s) (AutoEncoder, OutputLayer)" in ok.stdout

    bad = files / "bad.json"
    bad.write_text(files.joinpath("sda.json").read_text().replace('"nin" : 6', '"nin" : 7'))
    broken = files / "broken.json"
    broken.write_text(files.joinpath("vae.json").read_text()[:200])
    res = run_cli("validate", str(bad), str(files / "vae.json"), str(broken), str(files / "missing.json"))
    assert res.returncode == 1
    assert "bad.json: invalid: MultiLayerConfiguration: layer 1 (OutputLayer, name='layer1'): nIn=7 does not match " \
           "the 6 outputs of layer 0 (AutoEncoder" in res.stderr
    assert "broken.json: invalid:" in res.stderr and "line" in res.stderr and "column" in res.stderr
    assert "missing.json: invalid: " in res.stderr and "no such file" in res.stderr
    assert "vae.json: valid" in res.stdout


def test_validate_names_the_json_path(files, capsys):
    text = files.joinpath("vae.json").read_text().replace('"numSamples" : 1', '"numSamples" : "many"')
    (files / "path.json").write_text(text)
    assert main(["validate", str(files / "path.json")]) == 1
    assert "confs[0].layer.numSamples" in capsys.readouterr().err


def test_convert_legacy_to_current_and_json_yaml_round_trip(files, dl4j, capsys):
    pytest.importorskip("yaml")
    legacy = dl4j("configs/VAEMnistAnomaly_2018_legacy.mlc.json")
    out = files / "current.json"
    assert main(["convert", str(legacy), str(out)]) == 0
    expected = MultiLayerConfiguration.fromJson(legacy.read_text())
    assert MultiLayerConfiguration.fromJson(out.read_text()) == expected
    assert out.read_text().rstrip("\n") == expected.toJson()
    assert '"regularization"' in out.read_text()  # legacy l2 -> current regularization list
    assert main(["convert", str(out), str(files / "c.yaml")]) == 0
    assert main(["convert", str(files / "c.yaml"), str(files / "back.json")]) == 0
    assert files.joinpath("back.json").read_text() == out.read_text()
    assert main(["convert", str(out), str(files / "c.txt")]) == 1
    assert "must be .json, .yaml or .yml" in capsys.readouterr().err


def test_train_and_score_a_vae_in_a_subprocess(files):
    res = run_cli("train", "vae.json", "--data", "x.csv", "--epochs", "3", "--batch", "16", "--out", "vae.zip",
                  cwd=files)
    assert res.returncode == 0, res.stderr
    assert "pretrained layer 0 (VariationalAutoencoder) for 3 epoch(s)" in res.stdout
    assert "wrote vae.zip" in res.stdout
    assert "pretrain layer 0 epoch 2 [" in res.stderr and "5/5" in res.stderr  # the progress bar
    net = MultiLayerNetwork.load(files / "vae.zip")
    assert net.getLayerWiseConfigurations().confs[0].epoch_count == 3

    res = run_cli("score", "vae.zip", "--data", "x.csv", "--out", "scores.csv", "--samples", "5", "--seed", "7",
                  cwd=files)
    assert res.returncode == 0, res.stderr
    assert "80 rows of log_probability (higher = more normal)" in res.stdout
    with open(files / "scores.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["row", "log_probability"] and len(rows) == 81
    scores = np.array([float(r[1]) for r in rows[1:]])
    vae = net.getLayer(0)
    noise = np.random.default_rng(7).standard_normal((5, 80, 2)).astype(np.float32)
    expected = vae.reconstructionLogProbability(_binary(), 5, noise).reshape(-1)
    np.testing.assert_allclose(scores, expected, rtol=1e-6)


def test_summary_of_config_and_model_zip(files, capsys):
    assert main(["summary", str(files / "sda.json")]) == 0
    out = capsys.readouterr().out
    assert "layer0 (AutoEncoder)" in out and "layer1 (OutputLayer)" in out and "Total Parameters:  " in out
    net = MultiLayerNetwork(_sda_conf()).init()
    net.save(files / "m.zip")
    assert main(["summary", str(files / "m.zip")]) == 0
    out = capsys.readouterr().out
    assert f"{net.numParams():,} parameters; updater state: {2 * net.numParams():,} values" in out


def test_train_supervised_npy_with_labels_then_score(files, capsys):
    args = ["train", str(files / "sda.json"), "--data", str(files / "xy.npy"), "--labels-column", "0",
            "--epochs", "2", "--out", str(files / "sda.zip"), "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "pretrained layer 0 (AutoEncoder)" in out.out and "fitted 2 epoch(s)" in out.out and out.err == ""
    net = MultiLayerNetwork.load(files / "sda.zip")
    assert net.getEpochCount() == 2
    assert main(["score", str(files / "sda.zip"), "--data", str(files / "xy.npy"), "--labels-column", "0",
                 "--out", str(files / "s.csv")]) == 0
    assert "reconstruction_mse (lower = more normal)" in capsys.readouterr().out
    x = np.load(files / "xy.npy")[:, 1:]
    got = np.loadtxt(files / "s.csv", delimiter=",", skiprows=1)[:, 1]
    r = net.getLayer(0).reconstruct(x.astype(np.float32))
    np.testing.assert_allclose(got, ((x - r) ** 2).mean(axis=1), rtol=1e-5)


def test_train_a_dense_autoencoder_with_reconstruct(files, capsys):
    conf = (NeuralNetConfiguration.Builder().seed(1).updater(Adam(1e-2)).list()
            .layer(DenseLayer.Builder().nIn(10).nOut(4).activation("relu").build())
            .layer(OutputLayer.Builder(LF.MSE).nIn(4).nOut(10).activation("sigmoid").build())
            .build())
    (files / "ae.json").write_text(conf.toJson())
    base = ["train", str(files / "ae.json"), "--data", str(files / "x.csv"), "--epochs", "2", "--no-progress"]
    assert main(base + ["--out", str(files / "ae.zip")]) == 1
    assert "needs labels: pass --labels-column" in capsys.readouterr().err
    assert main(base + ["--reconstruct", "--out", str(files / "ae.zip")]) == 0
    capsys.readouterr()
    assert main(["score", str(files / "ae.zip"), "--data", str(files / "x.csv"), "--out", str(files / "e.csv")]) == 0
    assert "rows of reconstruction_error" in capsys.readouterr().out


def test_data_errors_are_located(files, capsys):
    (files / "bad.csv").write_text("1,2,3,4,5,6,7,8,9,0\n1,2,3,x,5,6,7,8,9,0\n")
    assert main(["train", str(files / "vae.json"), "--data", str(files / "bad.csv"), "--out", str(files / "o.zip")]) == 1
    err = capsys.readouterr().err
    assert "bad.csv, line 2, column 3: value 'x' is not a number" in err
    assert main(["train", str(files / "vae.json"), "--data", str(files / "xy.npy"), "--out", str(files / "o.zip")]) == 1
    assert "11 feature columns, but the network's first layer has nIn=10" in capsys.readouterr().err
    np.save(files / "lab.npy", np.column_stack([np.full(80, 1.5), _binary()]))
    assert main(["train", str(files / "sda.json"), "--data", str(files / "lab.npy"), "--labels-column", "0",
                 "--out", str(files / "o.zip")]) == 1
    assert "lab.npy, row 0, column 0: label 1.5 is not a class index" in capsys.readouterr().err
    assert main(["score", str(files / "nothing.zip"), "--data", str(files / "x.csv"), "--out", "s.csv"]) == 1
    assert "no such file" in capsys.readouterr().err
    assert not (files / "o.zip").exists()


def test_bad_command_lines_exit_with_2(capsys):
    for argv in ([], ["frobnicate"], ["train", "c.json"], ["train", "c.json", "--data", "d.csv", "--out", "m.zip",
                                                             "--batch", "0"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    capsys.readouterr()


def test_python_m_dl4py_keeps_warmup(monkeypatch, capsys):
    import dl4py
    import dl4py.__main__ as entry

    monkeypatch.setattr(dl4py, "warmup", lambda verbose=False, typical=False: {"updaters": 0.25 + typical})
    assert entry.main(["warmup"]) == 0
    assert "total 0.25 s" in capsys.readouterr().out
    assert entry.main(["warmup", "--typical"]) == 0
    assert "total 1.25 s" in capsys.readouterr().out


def test_typical_warmup_trains_the_three_typical_networks():
    import dl4py

    assert set(dl4py.warmup(typical=True)) == {"vae", "autoencoder", "mlp"}


def test_console_script_is_declared():
    cfg = (REPO_ROOT / "setup.cfg").read_text()
    assert "dl4py = dl4py.cli:main" in cfg
    beside = Path(sys.executable).with_name("dl4py")  # an activated or not activated virtual environment
    exe = str(beside) if beside.exists() else shutil.which("dl4py")
    if exe is None:
        pytest.skip("dl4py is not installed as a console script here (pip install -e . installs it)")
    res = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.startswith("dl4py ")
