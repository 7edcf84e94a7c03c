"""DL4J model zips through MultiLayerNetwork: regression files of 0.5.0–1.0.0-beta6 and save/load round trips."""
from __future__ import annotations

import logging
import zipfile

import numpy as np
import pytest

from dl4py.exceptions import ModelSerializerException
from dl4py.nn.conf import MultiLayerConfiguration
from dl4py.nn.multilayer import MultiLayerNetwork
from dl4py.util import ModelSerializer

REGRESSION = [f"regression/{v}/{v}_ModelSerializer_Regression_MLP_{k}.zip" for v in ("050", "060", "071", "080") for k in (1, 2)]
ALL_ZIPS = REGRESSION + [
    "integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip",
    "integration/MLPMnist/Model_RANDOM_INIT_UNTRAINED.zip",
    "integration/VAEMnistAnomaly/Model_RANDOM_INIT_UNTRAINED.zip",
    "regression/100b6/VaeMNISTAnomaly_100b6.bin",
]


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_mlp_zips(dl4j, name):
    net = MultiLayerNetwork.load(dl4j(name), True)
    expected = np.arange(1, 42, dtype=np.float32)
    np.testing.assert_array_equal(net.params(), expected)
    np.testing.assert_array_equal(net.updaterState(), expected)
    layers = [c.layer for c in net.getLayerWiseConfigurations().confs]
    assert [type(l).__name__ for l in layers] == ["DenseLayer", "OutputLayer"]
    assert (layers[0].n_in, layers[0].n_out, layers[1].n_in, layers[1].n_out) == (3, 4, 4, 5)
    assert net.numParams() == 41


@pytest.mark.parametrize("name", ALL_ZIPS)
def test_load_save_load_is_identical(dl4j, name, tmp_path):
    net = MultiLayerNetwork.load(dl4j(name), True)
    out = tmp_path / "again.zip"
    net.save(out, True)
    again = ModelSerializer.restoreMultiLayerNetwork(out, True)
    assert again.getLayerWiseConfigurations() == net.getLayerWiseConfigurations()
    np.testing.assert_array_equal(again.params(), net.params())
    np.testing.assert_array_equal(again.updaterState(), net.updaterState())
    with zipfile.ZipFile(out) as z:
        assert z.namelist() == ["configuration.json", "coefficients.bin", "updaterState.bin"]
        conf = MultiLayerConfiguration.fromJson(z.read("configuration.json"))
    assert all(c.variables for c in conf.confs)  # variables are filled in a saved model, as DL4J writes them


def test_untrained_updater_state_sizes(dl4j):
    for name, n in (("MLPMoon", 102), ("MLPMnist", 50890), ("VAEMnistAnomaly", 558928)):
        net = MultiLayerNetwork.load(dl4j(f"integration/{name}/Model_RANDOM_INIT_UNTRAINED.zip"), True)
        assert net.numParams() == n
        mult = 1 if name == "MLPMoon" else 2
        assert net.updaterState().shape == (mult * n,)
        assert not net.updaterState().any()


def test_save_without_updater(tmp_path, dl4j):
    net = MultiLayerNetwork.load(dl4j("integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip"))
    net.save(tmp_path / "m.zip", saveUpdater=False)
    with zipfile.ZipFile(tmp_path / "m.zip") as z:
        assert "updaterState.bin" not in z.namelist()


def test_mismatched_coefficients_are_refused(tmp_path, dl4j):
    from dl4py.serde.modelzip import read_model_zip, write_model_zip

    contents = read_model_zip(dl4j("integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip"))
    bad = tmp_path / "bad.zip"
    write_model_zip(bad, contents.configuration_json, contents.coefficients[:, :50], None)
    with pytest.raises(ModelSerializerException, match="102"):
        MultiLayerNetwork.load(bad)


def test_unused_entries_are_reported(tmp_path, dl4j, caplog):
    from dl4py.serde.modelzip import read_model_zip, write_model_zip

    contents = read_model_zip(dl4j("integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip"))
    path = tmp_path / "with_normalizer.zip"
    write_model_zip(path, contents.configuration_json, contents.coefficients, contents.updater_state,
                    {"normalizer.bin": b"\x00\x01"})
    with caplog.at_level(logging.WARNING, logger="dl4py.util"):
        net = MultiLayerNetwork.load(path)
    assert "normalizer.bin" in caplog.text
    assert net.other_zip_entries == ["normalizer.bin"]
