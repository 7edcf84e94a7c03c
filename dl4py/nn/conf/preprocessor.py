"""Input preprocessors (DL4J: ``org.deeplearning4j.nn.conf.preprocessor``)."""
from __future__ import annotations

from ...config.base import Dl4jConfig, option
from ...serde.registry import dl4j_class


class InputPreProcessor(Dl4jConfig):
    """Base of preprocessors that reshape activations between layers."""

    def outputSize(self) -> int:
        raise NotImplementedError


@dl4j_class("org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor", "cnnToFeedForward")
class CnnToFeedForwardPreProcessor(InputPreProcessor):
    """Flattens [N, channels, height, width] activations to [N, channels·height·width] rows (c order)."""

    input_height: int = option(0)
    input_width: int = option(0)
    num_channels: int = option(0)

    def outputSize(self) -> int:
        return self.input_height * self.input_width * self.num_channels
