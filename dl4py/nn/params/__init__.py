"""Parameter initialisation for the NumPy engine (DL4J: ``org.deeplearning4j.nn.params`` and the ``init``
methods of ``org.deeplearning4j.nn.weights``); see :mod:`dl4py.nn.params.weight_init`."""
