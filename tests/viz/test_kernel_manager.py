"""The dashboard server's kernel manager with a real kernel: what a closed page leaves."""

from __future__ import annotations

import asyncio

from cantelem_sci.viz._kernel_manager import DashboardKernelManager

CHANNELS = ("iopub", "shell", "control", "stdin")


def test_a_page_closed_while_its_kernel_shuts_down_leaves_no_socket_behind(tmp_path):
    """The page's beacon shuts its kernel down and its websocket closes at about the same
    time: when the socket closes after Jupyter has stopped the kernel's buffering but before
    the kernel is gone, the page's four streams start buffering for a kernel about to end.
    After the shutdown they are closed and no buffer is kept for the kernel (each such visit
    used to leave four ZMQ sockets and their descriptors in the server)."""

    async def page_closes_during_shutdown() -> tuple[dict, DashboardKernelManager, str]:
        km = DashboardKernelManager(connection_dir=str(tmp_path))
        kid = await km.start_kernel(kernel_name="python3")
        streams = {c: getattr(km, f"connect_{c}")(kid) for c in CHANNELS}  # ZMQStreams
        shutdown = asyncio.create_task(km.shutdown_kernel(kid))
        await asyncio.sleep(0)  # the shutdown has begun: buffering stopped, kernel listed
        assert kid in km
        km.start_buffering(kid, "the-page", streams)
        await shutdown
        return streams, km, kid

    streams, km, kid = asyncio.run(page_closes_during_shutdown())
    assert kid not in km
    assert kid not in km._kernel_buffers
    assert [c for c, s in streams.items() if not s.closed()] == []


def test_a_page_closed_after_its_kernel_ended_closes_its_streams(tmp_path):
    """The socket closes after the shutdown: its streams are closed at once, no buffer."""

    async def page_closes_after_shutdown() -> tuple[dict, DashboardKernelManager, str]:
        km = DashboardKernelManager(connection_dir=str(tmp_path))
        kid = await km.start_kernel(kernel_name="python3")
        streams = {c: getattr(km, f"connect_{c}")(kid) for c in CHANNELS}  # ZMQStreams
        await km.shutdown_kernel(kid)
        km.start_buffering(kid, "the-page", streams)
        return streams, km, kid

    streams, km, kid = asyncio.run(page_closes_after_shutdown())
    assert kid not in km._kernel_buffers
    assert [c for c, s in streams.items() if not s.closed()] == []
