"""Input types (DL4J: ``org.deeplearning4j.nn.conf.inputs.InputType``), used by ``setInputType`` to infer nIn."""
from __future__ import annotations

from dataclasses import dataclass

from ..._naming import snake_aliases


@dataclass(frozen=True)
class InputType:
    """Shape of the data entering a layer. Build with the static methods: ``InputType.feedForward(784)``,
    ``InputType.convolutionalFlat(28, 28, 1)``, ``InputType.convolutional(28, 28, 1)``."""

    kind: str
    size: int = 0
    height: int = 0
    width: int = 0
    channels: int = 0

    @staticmethod
    def feedForward(size: int) -> "InputType":
        _positive(size=size)
        return InputType("FF", size=size)

    @staticmethod
    def convolutionalFlat(height: int, width: int, depth: int) -> "InputType":
        """Images flattened to rows of height·width·depth values (what a DenseLayer takes directly)."""
        _positive(height=height, width=width, depth=depth)
        return InputType("CNNFlat", size=height * width * depth, height=height, width=width, channels=depth)

    @staticmethod
    def convolutional(height: int, width: int, depth: int) -> "InputType":
        """Images [N, channels, height, width]; a feed-forward layer after it gets a CnnToFeedForwardPreProcessor."""
        _positive(height=height, width=width, depth=depth)
        return InputType("CNN", size=height * width * depth, height=height, width=width, channels=depth)

    def arrayElementsPerExample(self) -> int:
        return self.size

    def __str__(self) -> str:
        if self.kind == "FF":
            return f"InputTypeFeedForward({self.size})"
        return f"InputType{self.kind}(h={self.height},w={self.width},c={self.channels})"


def _positive(**sizes: int) -> None:
    from ...exceptions import DL4JInvalidConfigException

    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise DL4JInvalidConfigException(f"InputType: {name} must be an integer > 0, got {value!r}")


snake_aliases(InputType)
