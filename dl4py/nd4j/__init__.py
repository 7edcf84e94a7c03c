"""ND4J array I/O (DL4J: ``Nd4j.read`` / ``Nd4j.write``) and ``DataSet.save`` files, in NumPy."""
from __future__ import annotations

from dl4py.nd4j.binary import (
    array_to_bytes,
    read_array,
    read_array_from_bytes,
    read_dataset,
    write_array,
    write_dataset,
)

__all__ = [
    "read_array",
    "write_array",
    "read_array_from_bytes",
    "array_to_bytes",
    "read_dataset",
    "write_dataset",
]
