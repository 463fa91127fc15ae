"""Placeholder until the kernels of issue 3 land; see README."""


def main() -> None:
    try:
        from cantelem_sci.kernels import lttb  # noqa: F401
    except ImportError:
        print("[kernels] cantelem_sci.kernels not built yet")
        return
    from . import _bench_lttb

    _bench_lttb.main()
