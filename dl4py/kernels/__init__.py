"""Numba kernels of the dl4py engine (elementwise stages, updaters)."""
