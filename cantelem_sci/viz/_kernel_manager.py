"""The dashboard server's kernel manager: a limit on open pages, and no memory left behind
by a closed one.

Each open page holds a kernel (about 500 MB), so a shared URL could exhaust a server. Past
``dashboard_max_pages`` open pages, a new visitor gets a page saying so (HTTP 503) instead
of a kernel; closing a page frees its place. A closed page's sockets are closed with its
kernel, and the garbage it leaves collected (the server used to grow ~6.5 MB a visit).

Voilà takes its kernel manager class from ``VoilaConfiguration.multi_kernel_manager_class``
(its pre-heating pool subclasses it): :class:`DashboardKernelManager` counts the visitors'
kernels (the pool's pre-heated kernel is not one) and refuses the one too many.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Int

__all__ = ["COLLECT_AFTER_S", "DashboardKernelManager", "busy_message"]

#: seconds after a kernel's shutdown that the server collects its garbage
COLLECT_AFTER_S = 3.0


def busy_message(pages: int) -> str:
    """What a visitor refused for the limit reads.

    Example
    -------
    >>> busy_message(4)[:46]
    'The dashboard is showing its limit of 4 pages '
    """
    return (f"The dashboard is showing its limit of {pages} pages at once (each holds a "
            "Python kernel). Try again when someone closes theirs, or ask the administrator "
            "to raise dashboard_max_pages.")


class DashboardKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager serving at most ``pages`` visitors at once (0: no limit).

    A visitor takes Voilà's pre-heated kernel (``get_rendered_notebook``) or starts one
    (``start_kernel`` outside the pool); either is refused with :func:`busy_message` (HTTP
    503) while ``pages`` visitors' kernels run. The pool's own refill is never refused: the
    next visitor after a page closes is served at once.
    """

    pages = Int(0, config=True, help="Visitors' kernels at most (0: no limit).")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Voilà's pre-heating manager subclasses this class (its factory takes the class as
        # a base): its visitors take a pooled kernel without a start_kernel call
        super().__init_subclass__(**kwargs)
        take = cls.__dict__.get("get_rendered_notebook")
        if take is not None:
            async def get_rendered_notebook(self, *args: Any, **kw: Any) -> Any:
                self.check_room()
                return await take(self, *args, **kw)

            cls.get_rendered_notebook = get_rendered_notebook

    def _pooled(self) -> int:
        """Kernels the pre-heating pool holds for the next visitors."""
        n = 0
        for pool in getattr(self, "_pools", {}).values():
            for task in pool:
                if not task.done():
                    n += 1  # its kernel may be running already
                elif (not task.cancelled() and not task.exception()
                      and task.result().get("kernel_id") in self):
                    n += 1
        return n

    def visitors(self) -> int:
        """Kernels of open pages (every kernel but the pool's)."""
        return max(0, len(self.list_kernel_ids()) - self._pooled())

    def check_room(self) -> None:
        """Refuse a new visitor (HTTP 503, :func:`busy_message`) at the limit."""
        if self.pages and self.visitors() >= self.pages:
            self.log.warning("cantelem: %d pages open, the limit: a visitor is turned away",
                             self.pages)
            raise web.HTTPError(503, reason=busy_message(self.pages))

    async def shutdown_kernel(self, kernel_id: str, *args: Any, **kwargs: Any) -> None:
        try:
            await super().shutdown_kernel(kernel_id, *args, **kwargs)
        finally:
            if kernel_id not in self:
                self._drop_buffer(kernel_id)
        # the page's kernel client and sockets are garbage in reference cycles, holding
        # libzmq's buffers of the page's messages (~6.5 MB; Python's allocator does not see
        # them, so nothing prompts a collection): collected once its socket has closed
        asyncio.get_running_loop().call_later(COLLECT_AFTER_S, gc.collect)

    def _drop_buffer(self, kernel_id: str) -> None:
        """Close the streams buffered for a kernel that is gone. Jupyter stops a kernel's
        buffering when its shutdown begins; a page whose socket closed while the shutdown
        was under way (the page's beacon and its socket race on close) started buffering
        after that, and the buffer, its four ZMQ sockets and their file descriptors stayed
        in the server for good (4 descriptors every 2-3 visits)."""
        _close((self._kernel_buffers.pop(kernel_id, None) or {}).get("channels", {}))

    def start_buffering(self, kernel_id: str, session_key: Any, channels: dict) -> None:
        """A page's socket closed: keep its kernel's messages for a reconnection, unless
        the kernel is gone. The page's beacon ends its kernel before its socket closes;
        Jupyter then refused to buffer for an unknown kernel (404) without closing the
        socket's four ZMQ streams, and each visit left them, and the libzmq buffers of
        the page's last messages (~6.5 MB), in the server for good."""
        if kernel_id not in self:
            _close(channels)
            return
        super().start_buffering(kernel_id, session_key, channels)

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:
        if (kwargs.get("env") or {}).get("VOILA_PREHEAT") != "True":  # a visitor's kernel
            self.check_room()
        return await super().start_kernel(*args, **kwargs)


def _close(channels: dict) -> None:
    """Close a page's ZMQ streams at once: what they still had to send has no one to go to."""
    for stream in channels.values():
        if not stream.closed():
            stream.on_recv(None)
            stream.close(linger=0)
