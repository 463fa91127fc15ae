"""Shared fixtures: the corpus (read in place, never copied), sample data, hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]

settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def corpus_dir() -> Path:
    """``$CANTELEM_CORPUS`` or ``../shared/corpus`` beside the project root."""
    return Path(os.environ.get("CANTELEM_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()


def corpus_path(*parts: str) -> Path:
    """A corpus path; the calling test is skipped, with the reason, when it is absent."""
    p = corpus_dir().joinpath(*parts)
    if not p.exists():
        pytest.skip(f"corpus file {p} is absent (set CANTELEM_CORPUS to the shared corpus)")
    return p


def corpus_files(folder: str, pattern: str) -> list[Path]:
    base = corpus_dir() / folder
    return sorted(base.glob(pattern)) if base.is_dir() else []


@pytest.fixture(scope="session")
def corpus() -> Path:
    d = corpus_dir()
    if not d.is_dir():
        pytest.skip(f"shared corpus {d} is absent (set CANTELEM_CORPUS)")
    return d


@pytest.fixture(scope="session")
def sample_db():
    import cantelem_sci as ct

    return ct.load_dbc(ct.sample_dbc_path())


@pytest.fixture(scope="session")
def sample_batch():
    import cantelem_sci as ct

    return ct.simulate_vehicle("EV0001", duration_s=20.0, seed=7)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "corpus" in item.fixturenames or "corpus" in item.nodeid.lower():
            item.add_marker(pytest.mark.corpus)


# ---- a real S3 API over HTTP: moto's ThreadedMotoServer on 127.0.0.1 ---------------------------

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _aws_test_env() -> None:
    # moto accepts any credentials; these never reach a real AWS account
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.pop("AWS_PROFILE", None)


class MotoS3:
    """A moto S3 server in this process (start/stop/restart on a fixed port)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        _aws_test_env()
        self.port = free_port()
        self._cls = ThreadedMotoServer
        self.server = None
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.start()

    def start(self) -> None:
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
        import uuid

        name = f"cantelem-{uuid.uuid4().hex[:12]}"
        self.fs().mkdir(name)
        return name


@pytest.fixture(scope="session")
def moto_s3():
    """A session-wide moto S3 server; each test makes its own bucket."""
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(moto_s3) -> str:
    return moto_s3.new_bucket()
