"""Optimiser configurations (DL4J: ``org.nd4j.linalg.learning``): :mod:`.config` updaters, :mod:`.regularization`."""
