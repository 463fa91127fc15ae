"""A moto S3 server over HTTP on a free port of 127.0.0.1 for the benchmarks (moto accepts
any credentials; they never reach AWS)."""

from __future__ import annotations

import logging
import os
import socket
import uuid


class MotoS3:
    """Started on construction; ``fs()`` an s3fs filesystem on it; ``stop()``."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        for k, v in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                     ("AWS_DEFAULT_REGION", "us-east-1")):
            os.environ.setdefault(k, v)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.endpoint_url = f"http://127.0.0.1:{port}"
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.server.start()

    def fs(self):
        import s3fs

        return s3fs.S3FileSystem(client_kwargs={"endpoint_url": self.endpoint_url},
                                 skip_instance_cache=True)

    def new_bucket(self) -> str:
        name = f"cantelem-{uuid.uuid4().hex[:12]}"
        self.fs().mkdir(name)
        return name

    def stop(self) -> None:
        self.server.stop()
