"""A moto S3 server over HTTP on a free port of 127.0.0.1, for the benchmarks and the tests
(moto accepts any credentials; they never reach AWS)."""

from __future__ import annotations

import logging
import os
import socket
import uuid


def aws_test_env() -> None:
    """Credentials and region for moto, unless set; no AWS profile that could reach AWS."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.pop("AWS_PROFILE", None)


class MotoS3:
    """Started on construction on a port of its own; ``stop()`` and ``start()`` again on the
    same port (an outage and its end); ``fs()`` an s3fs filesystem on it."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        aws_test_env()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._cls = ThreadedMotoServer
        self.server = None
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.start()

    def start(self) -> None:
        # werkzeug logs every request at INFO (thousands of lines in a benchmark's output)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server = self._cls(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def fs(self):
        import s3fs

        return s3fs.S3FileSystem(client_kwargs={"endpoint_url": self.endpoint_url},
                                 skip_instance_cache=True)

    def new_bucket(self) -> str:
        name = f"cantelem-{uuid.uuid4().hex[:12]}"
        self.fs().mkdir(name)
        return name
