"""Shared fixtures: the corpus (read in place, never copied), sample data, hypothesis profiles."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from benchmarks._moto import MotoS3  # noqa: F401  (the tests' S3 server too)

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


#: the longest modules (minutes each), started first
FIRST = ("tests/viz/test_browser_visits.py", "tests/viz/test_browser.py", "tests/test_package.py")


def pytest_collection_modifyitems(config, items):
    """Mark the corpus tests; put the longest modules first, then those with a slow test.

    ``./run test`` runs the modules on two processes (pytest-xdist, ``--dist loadscope``:
    a module's tests stay together, in order, on one process), handed out in this order:
    started last, a module of minutes would run alone at the end."""
    slow = set()
    for item in items:
        if "corpus" in item.fixturenames or "corpus" in item.nodeid.lower():
            item.add_marker(pytest.mark.corpus)
        if item.get_closest_marker("slow"):
            slow.add(item.nodeid.split("::")[0])

    def rank(item) -> int:
        module = item.nodeid.split("::")[0]
        return FIRST.index(module) if module in FIRST else len(FIRST) + (module not in slow)

    items.sort(key=rank)  # stable: each module's tests keep their order


# ---- a real S3 API over HTTP: moto's ThreadedMotoServer on 127.0.0.1 ---------------------------

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_s3():
    """A session-wide moto S3 server; each test makes its own bucket."""
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(moto_s3) -> str:
    return moto_s3.new_bucket()


# ---- a small generated fleet store and a real LocalCluster (fleet and viz tests) ---------------
import shutil  # noqa: E402
import warnings  # noqa: E402

START = "2026-03-01T23:55:00"
VEHICLES = ("EV0001", "EV0002")


def make_raw_store(path, duration_s: float = 600.0) -> dict:
    """Simulated frames of VEHICLES ingested through the edge logger; returns the batches."""
    import cantelem_sci as ct
    from cantelem_edge import ingest

    batches = {}
    for i, v in enumerate(VEHICLES):
        b = ct.simulate_vehicle(v, duration_s=duration_s, seed=1, index=i, start=START)
        ingest(b, v, str(path))
        batches[v] = b
    return batches


@pytest.fixture(scope="session")
def cluster_client():
    """A real dask.distributed LocalCluster (2 worker processes), whose workers have moto's
    credentials whichever test starts it (a worker reads them from its environment when
    it was spawned, before or after the first S3 test)."""
    from distributed import Client, LocalCluster

    from benchmarks._moto import aws_test_env

    aws_test_env()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="session")
def raw_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("raw-store")
    batches = make_raw_store(path)
    return path, batches


@pytest.fixture(scope="session")
def decoded_store(raw_store, cluster_client, tmp_path_factory):
    """The raw store decoded once with the session cluster (tests must not modify it)."""
    import cantelem_sci as ct

    src, batches = raw_store
    path = tmp_path_factory.mktemp("decoded") / "store"
    shutil.copytree(src, path)
    report = ct.decode_fleet(str(path), client=cluster_client, progress=False)
    return path, batches, report


@pytest.fixture
def fresh_raw_store(raw_store, tmp_path):
    """A private copy of the raw store (for tests that change it)."""
    src, batches = raw_store
    dst = tmp_path / "store"
    shutil.copytree(src, dst)
    return dst, batches


# ---- a real MQTT broker: Debian's Mosquitto on a free port of 127.0.0.1 -------------------------

def mosquitto_broker():
    """A started Mosquitto (:class:`cantelem_sci.io.EmbeddedBroker`); the calling test is
    skipped, with the reason, when the ``mosquitto`` package is not installed."""
    from cantelem_sci.io import EmbeddedBroker

    if not EmbeddedBroker.available("mosquitto"):
        pytest.skip("Mosquitto is not installed (./run test installs Debian's mosquitto "
                    "with apt-get when it can)")
    return EmbeddedBroker("mosquitto").start()


@pytest.fixture(scope="session")
def mosquitto():
    """A session-wide Mosquitto; tests that stop or restart a broker make their own."""
    broker = mosquitto_broker()
    yield broker
    broker.close()


# ---- a real browser: Debian's Chromium through Playwright ------------------------------------

@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module (its pages and servers end with the module); skipped,
    with the reason, when Debian's chromium is not installed."""
    from playwright.sync_api import sync_playwright

    from tests.viz._pages import launch_chromium

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


def make_certificates(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate (openssl)."""
    import shutil
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=cantelem-test-ca")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, cn in (("server", "127.0.0.1"), ("client", "EV0001")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.csr", "-subj", f"/CN={cn}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", "san.ext")
    return {k: str(d / f) for k, f in (("ca_certs", "ca.crt"), ("certfile", "client.crt"),
                                      ("keyfile", "client.key"))}


def wait_for(cond, timeout: float = 30.0, step: float = 0.02) -> bool:
    """Poll ``cond()`` until it is true (True) or ``timeout`` seconds pass (False)."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if cond():
            return True
        time.sleep(step)
    return False


# ---- real alert receivers: an HTTP server for webhooks, aiosmtpd for email -----------------------

class WebhookReceiver:
    """A plain ``http.server`` on 127.0.0.1 that records every POST (headers and JSON body);
    ``fail`` makes it answer 503 (a receiver that is down for maintenance)."""

    def __init__(self, port: int | None = None) -> None:
        import http.server
        import threading

        self.requests: list[dict] = []
        self.fail = False
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.requests.append({"headers": dict(self.headers), "body": body,
                                       "json": json.loads(body), "time": time.time()})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """An aiosmtpd SMTP server on 127.0.0.1 that keeps every message it receives."""

    def __init__(self, port: int | None = None, *, certs: dict | None = None,
                 login: tuple[str, str] | None = None) -> None:
        """``certs`` (:func:`make_certificates`): STARTTLS required; ``login``: AUTH
        required (user, password), over TLS only."""
        from aiosmtpd.controller import Controller

        outer = self
        self.messages: list[dict] = []
        self.logins: list[str] = []

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd
                import email

                msg = email.message_from_bytes(envelope.content)
                outer.messages.append({"to": envelope.rcpt_tos, "msg": msg,
                                       "json": json.loads(msg.get_payload(decode=True)),
                                       "time": time.time()})
                return "250 OK"

        kw = {}
        if certs:
            import ssl

            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            d = os.path.dirname(certs["ca_certs"])
            ctx.load_cert_chain(os.path.join(d, "server.crt"), os.path.join(d, "server.key"))
            kw.update(tls_context=ctx, require_starttls=True)
        if login:
            from aiosmtpd.smtp import AuthResult

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = (auth_data.login.decode(), auth_data.password.decode()) == login
                if ok:
                    outer.logins.append(auth_data.login.decode())
                return AuthResult(success=ok, auth_data=auth_data if ok else None)

            kw.update(authenticator=authenticator, auth_require_tls=True)
        self.port = port or free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kw)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


@pytest.fixture
def webhook_receiver():
    r = WebhookReceiver()
    yield r
    r.close()


@pytest.fixture
def smtp_receiver():
    r = SmtpReceiver()
    yield r
    r.close()
