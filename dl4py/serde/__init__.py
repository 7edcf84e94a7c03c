"""Interop with DL4J: the @class registry, DL4J JSON (current + legacy), ND4J arrays and model zips."""
