"""Small numba helpers shared by the kernel modules.

* :func:`same_shape` and :func:`select`: an argument check and a conditional expression that cost (almost) no
  compile time. numba's compile time grows with every statement and block of a kernel — each ``a.shape[0] != n``
  is a few typed statements and a branch, each ``a if c else b`` three blocks and a phi node, milliseconds of cold
  compile apiece — while an intrinsic is one call whose LLVM instructions are emitted directly.
* :func:`depend_on`: numba keys a function's on-disk cache on its own source file only; kernels that link code from
  another file (the float32 polynomials of ``_fastmath.py``) fold that file's stamp into theirs, else an edit there
  would leave stale machine code in the cache.
* :func:`start_numba`: numba's one-off start-up in a process, paid by whatever compiles or loads the first kernel.
* ``KERNEL_OPTIONS`` / ``HELPER_OPTIONS``: the numba options every kernel (every helper only kernels call) starts from.
"""
from __future__ import annotations

import os

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array

__all__ = ["same_shape", "select", "depend_on", "start_numba", "KERNEL_OPTIONS", "HELPER_OPTIONS"]

#: numba options of every kernel (modules add their fast-math flags), chosen for cold compile time:
#: ``no_cfunc_wrapper``: numba would otherwise build, optimise and emit a C-callable wrapper of each function as well,
#: needed only to pass the function as a first-class value, which no kernel is (tens of milliseconds per function);
#: ``_nrt=False``: no reference counting of arrays, which kernels only borrow (they allocate nothing): numba then
#: emits no incref/decref for each row view or slice and LLVM has none to remove (5-10 % of a kernel's compile time;
#: numba refuses to compile a kernel that would need its runtime).
KERNEL_OPTIONS = dict(cache=True, nogil=True, error_model="numpy", no_cfunc_wrapper=True, _nrt=False)
#: numba options of a helper that only kernels call: no Python wrapper either.
HELPER_OPTIONS = dict(KERNEL_OPTIONS, no_cpython_wrapper=True)

_started = False


@intrinsic
def same_shape(typingctx, *arrays):
    """``same_shape(a, b, ...)``: True when the arrays (of one number of dimensions) have the same shape."""
    if len(arrays) == 1 and isinstance(arrays[0], types.BaseTuple):  # numba passes the star-args as one tuple
        arrays = tuple(arrays[0])
    if not arrays or not all(isinstance(a, types.Array) for a in arrays) or len({a.ndim for a in arrays}) != 1:
        return None

    def codegen(context, builder, sig, args):
        tys = sig.args[0].types
        ok = cgutils.true_bit
        first = None
        for ty, val in zip(tys, cgutils.unpack_tuple(builder, args[0], len(tys))):
            shape = cgutils.unpack_tuple(builder, make_array(ty)(context, builder, val).shape, ty.ndim)
            if first is None:
                first = shape
                continue
            for x, y in zip(first, shape):
                ok = builder.and_(ok, builder.icmp_signed("==", x, y))
        return ok

    return types.boolean(types.StarArgTuple.from_types(arrays)), codegen


@intrinsic
def select(typingctx, cond, a, b):
    """``a if cond else b`` as one LLVM select: what LLVM makes of the conditional expression anyway, without the
    three blocks and the phi node numba would build, type and lower for it first."""
    if cond != types.boolean or a != b:
        return None

    def codegen(context, builder, sig, args):
        return builder.select(args[0], args[1], args[2])

    return a(cond, a, b), codegen


def depend_on(paths: tuple[str, ...], *dispatchers) -> None:
    """Fold the stamps (mtime, size) of ``paths`` into the on-disk cache stamp of each numba dispatcher, so that an
    edit to a file whose code they link invalidates their cached machine code."""
    stamps = tuple((st.st_mtime, st.st_size) for st in (os.stat(p) for p in paths))
    for d in dispatchers:
        try:
            cache_file = d._cache._cache_file
            cache_file._source_stamp = (cache_file._source_stamp, stamps)
        except AttributeError:  # numba internals changed: keep numba's own behaviour
            pass


def start_numba() -> None:
    """Run numba's per-process start-up now rather than inside the first kernel call: it loads its compiler's
    registries and probes SciPy for BLAS (about half a second, even when every kernel comes from the on-disk cache).
    The engine layers call it when a network is built, so that the first ``fit`` does not pay it. Idempotent."""
    global _started
    if _started:
        return
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.registry import cpu_target

    with global_compiler_lock:
        cpu_target.typing_context.refresh()
        cpu_target.target_context.refresh()
    _started = True
