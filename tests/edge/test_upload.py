"""Upload to a real S3 API over HTTP (moto's ThreadedMotoServer): verify, idempotence, outage."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time

import numpy as np
import pytest
import xarray as xr

from cantelem_edge import EdgeLogger, load_config

pytestmark = pytest.mark.s3


def _cfg(tmp_path, server, bucket, **kw):
    # the simulator runs at 20x and segments rotate on data time: 5 s segments make about
    # 4 per wall second, a backlog to test without hundreds of uploads to drain
    return load_config(environ={}, spool=str(tmp_path / "spool"), flush_interval=0.1,
                       segment_seconds=kw.pop("segment_seconds", 5.0), s3_url=f"s3://{bucket}/fleet",
                       s3_endpoint_url=server.endpoint_url,
                       upload_retry_base=kw.pop("upload_retry_base", 0.2),
                       upload_retry_max=kw.pop("upload_retry_max", 1.0),
                       upload_timeout=kw.pop("upload_timeout", 2.0),
                       sources=kw.pop("sources", ["sim:20x"]), **kw)


def _remote_frames(server, bucket):
    fs = server.fs()
    mans = fs.glob(f"{bucket}/fleet/raw/vehicle=EV0001/date=*/*.manifest.json")
    frames = []
    for m in mans:
        man = json.loads(fs.cat_file(m))
        ds = xr.open_zarr(fs.get_mapper(m[: -len(".manifest.json")]), consolidated=False)
        assert ds.sizes["frame"] == man["frame_count"]
        frames.append(ds[["arbitration_id", "channel"]].to_dataframe().reset_index())
        # every file of the manifest is there with its size, nothing more
        listed = {p.split(".zarr/", 1)[1]: fs.info(p)["size"]
                  for p in fs.find(m[: -len(".manifest.json")])}
        assert listed == {k: v["size"] for k, v in man["files"].items()}
    import pandas as pd

    return mans, (pd.concat(frames) if frames else pd.DataFrame())


def test_segments_upload_verified_then_deleted_locally(tmp_path, moto_s3, s3_bucket):
    lg = EdgeLogger(_cfg(tmp_path, moto_s3, s3_bucket, s3_key="AKIATESTKEY", s3_secret="topsecret"))
    lg.start()
    lg.run(duration=1.5)
    lg.sources[0].stop()
    lg.stop(upload_timeout=120)
    st = lg.status()
    mans, df = _remote_frames(moto_s3, s3_bucket)
    assert st["frames"]["uploaded"] == st["frames"]["durable"] == len(df) > 0
    assert st["segments"]["uploaded"] == st["segments"]["written"] == len(mans)
    assert not list((tmp_path / "spool").glob("raw/**/*.zarr"))  # local copies gone
    assert st["latency_s"]["uploaded"]["p50"] is not None
    text = (lg.cfg.status_file).read_text()
    assert "topsecret" not in text and "AKIATESTKEY" not in text


def test_upload_is_idempotent(tmp_path, moto_s3, s3_bucket):
    import cantelem_sci as ct
    from cantelem_edge import ingest

    cfg = _cfg(tmp_path, moto_s3, s3_bucket)
    # 12 s of frames in 5 s segments, local only (no S3): three segments, however busy the host
    ingest(ct.simulate_vehicle("EV0001", duration_s=12), "EV0001", cfg.spool,
           segment_seconds=5.0)
    local = sorted((tmp_path / "spool").glob("raw/vehicle=EV0001/date=*/*.zarr.manifest.json"))
    backup = tmp_path / "backup"
    shutil.copytree(tmp_path / "spool" / "raw", backup)
    from cantelem_edge._upload import Uploader, make_filesystem

    up = Uploader(cfg, lambda *a: None, lambda m: None)
    up.fs = make_filesystem(cfg)
    for m in up.pending():
        up.upload(m)
    first = sorted(moto_s3.fs().find(f"{s3_bucket}/fleet"))
    # a crash after the upload but before the local delete: same segments again
    shutil.rmtree(tmp_path / "spool" / "raw")
    shutil.copytree(backup, tmp_path / "spool" / "raw")
    for m in up.pending():
        up.upload(m)
    assert sorted(moto_s3.fs().find(f"{s3_bucket}/fleet")) == first
    assert len([p for p in first if p.endswith(".manifest.json")]) == len(local) >= 2


def test_a_manifest_still_being_written_is_not_pending(tmp_path, moto_s3, s3_bucket):
    """The writer renames ``.tmp-<name>`` into place; pathlib's glob matches dot files, and
    an upload of the temporary name failed (FileNotFoundError) and backed off."""
    import cantelem_sci as ct
    from cantelem_edge import ingest
    from cantelem_edge._upload import Uploader

    cfg = _cfg(tmp_path, moto_s3, s3_bucket)
    ingest(ct.simulate_vehicle("EV0001", duration_s=6), "EV0001", cfg.spool,
           segment_seconds=5.0)
    up = Uploader(cfg, lambda *a: None, lambda m: None)
    done = up.pending()
    tmp = done[-1].with_name(".tmp-" + done[-1].name.replace("000002", "000003"))
    tmp.write_text("{}")  # a manifest half way through its write
    assert up.pending() == done and len(done) == 2


def test_server_down_then_back_nothing_lost_no_duplicates(tmp_path):
    from tests.conftest import MotoS3

    server = MotoS3()
    try:
        bucket = server.new_bucket()
        lg = EdgeLogger(_cfg(tmp_path, server, bucket))
        lg.start()
        lg.run(duration=1.0)
        server.stop()  # the network goes away
        lg.run(duration=2.0)
        st = lg.status()
        assert st["upload"]["state"] == "offline"
        waiting = len(lg.uploader.pending())
        assert waiting >= 2  # backlog kept in the local spool
        server.start()  # and comes back (moto keeps its buckets in this process)
        lg.run(duration=0.5)
        t_end = time.monotonic() + 30
        lg.sources[0].stop()
        while lg.uploader.pending() and time.monotonic() < t_end:
            lg.run(duration=0.3)
            time.sleep(0.1)  # the source has stopped: run() returns at once
        lg.stop(upload_timeout=15)
        st = lg.status()
        mans, df = _remote_frames(server, bucket)
        assert not lg.uploader.pending()
        assert st["frames"]["uploaded"] == st["frames"]["durable"] == len(df)
        assert st["segments"]["uploaded"] == st["segments"]["written"] == len(mans)
        assert st["errors"] and all("upload failed" in e for e in st["errors"] if "upload" in e)
        # no duplicate frames: each (time, id) once
        keys = np.array([str(t) + ":" + str(i) for t, i in zip(df["time"], df["arbitration_id"])])
        assert len(np.unique(keys)) == len(keys)
    finally:
        server.stop()


class _BlackHole:
    """An endpoint that accepts TCP connections and never answers (a black-holed network):
    keeps the first line of each request it was sent."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted: list = []
        self.requests: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)  # held open, never answered
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn) -> None:
        try:
            line = conn.makefile("rb").readline()
        except OSError:
            return
        self.requests.append(line.decode("latin-1").strip())

    def s3_requests(self) -> list[str]:
        """The requests of the S3 client (not the uploader's probes of ``/``)."""
        return [r for r in self.requests if not r.startswith("HEAD / ")]

    def close(self) -> None:
        self.sock.close()
        for c in self.accepted:
            c.close()


def test_a_black_holed_endpoint_is_one_try_per_attempt(tmp_path):
    """With the network black-holed, the first attempt fails after one request of
    ``upload_timeout`` (s3fs's own retries are off), is reported, and the next attempt waits
    for the uploader's backoff: connections are counted at the endpoint, not timed."""
    from cantelem_edge._upload import Uploader
    from tests.conftest import wait_for

    hole = _BlackHole()
    try:
        lg = EdgeLogger(load_config(environ={}, spool=str(tmp_path / "spool"), sources=["sim"]))
        lg.start()  # (no upload configured: one segment to upload below)
        lg.run(duration=1.0)
        lg.stop()
        cfg = load_config(environ={}, spool=str(tmp_path / "spool"), sources=["sim"],
                          s3_url="s3://bucket/fleet", s3_endpoint_url=hole.url,
                          s3_key="AKIAEXAMPLEKEY", s3_secret="example-secret-0123",
                          upload_timeout=0.5, upload_retry_base=60.0, upload_retry_max=60.0)
        errors: list[str] = []
        up = Uploader(cfg, lambda *a: None, errors.append)
        up.start()
        assert wait_for(lambda: errors, timeout=30)
        first = hole.s3_requests()
        time.sleep(1.5)  # within the 30-90 s backoff: no new attempt, only probes
        up.stop(timeout=5)
        assert len(first) == 1, first  # s3fs alone would have made 5 tries
        assert hole.s3_requests() == first
        assert "upload failed" in errors[0] and "retry 1 in" in errors[0]
    finally:
        hole.close()


def test_uploads_resume_when_the_endpoint_answers_again_not_when_the_backoff_ends(tmp_path):
    """After an outage the uploader probes the endpoint every second and goes on as soon as
    it answers: the backlog is uploaded before the retry its backoff had scheduled."""
    from tests.conftest import MotoS3, wait_for

    server = MotoS3()
    try:
        bucket = server.new_bucket()
        lg = EdgeLogger(_cfg(tmp_path, server, bucket, upload_retry_base=30.0,
                             upload_retry_max=60.0, upload_timeout=1.0))
        lg.start()
        server.stop()
        lg.run(duration=1.5)
        assert wait_for(lambda: lg.status()["upload"]["state"] == "offline", timeout=30)
        server.start()
        lg.sources[0].stop()
        lg.run(duration=0.2)
        lg.flush(force_rotate=True)
        assert wait_for(lambda: not lg.uploader.pending(), timeout=60)
        lg.stop(upload_timeout=5)
        st = lg.status()
        assert st["frames"]["uploaded"] == st["frames"]["durable"] > 0
        # the wait for the scheduled retry was cut short by a probe that got an answer
        assert st["upload"]["resumed_by_probe"] >= 1 and st["upload"]["attempt"] == 0
    finally:
        server.stop()
