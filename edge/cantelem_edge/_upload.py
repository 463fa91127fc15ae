"""Background upload of finished segments to S3 (any endpoint: AWS, MinIO, SeaweedFS, moto).

Oldest segment first. Each file of a segment is uploaded and verified (size and ETag, i.e.
MD5; one PUT per file), then the manifest last; only after the manifest is verified is the
local copy deleted. An upload is idempotent: the same key is written again with the same
bytes, files already present and identical are skipped, so a crash at any moment followed by
a restart never duplicates or loses a segment. Failures are retried with exponential backoff
and jitter; while offline every segment stays in the local spool.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable

from cantelem_sci.errors import UploadError
from cantelem_sci.io import file_md5

from ._config import EdgeConfig
from ._s3 import S3Client

log = logging.getLogger("cantelem_edge")


def make_filesystem(cfg: EdgeConfig) -> S3Client:
    """The S3 client of the uploader (:class:`._s3.S3Client`: botocore, one try per call)."""
    return S3Client(cfg)


def retry_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds before retry ``attempt`` (1, 2, ...): ``base`` doubled per attempt, times a
    jitter of 0.5-1.5 (a fleet does not retry in step), never above ``cap``.

    Example
    -------
    >>> all(retry_delay(n, 1.0, 30.0) <= 30.0 for n in range(1, 20))
    True
    """
    return min(cap, base * 2 ** min(attempt - 1, 30) * random.uniform(0.5, 1.5))


#: Errors that mean the endpoint could not be reached (rather than refused the request).
UNREACHABLE = ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError",
               "ConnectionClosedError", "ClientConnectorError", "ServerDisconnectedError",
               "ClientOSError", "TimeoutError")


def unreachable(err: BaseException) -> bool:
    """Whether ``err`` (or what caused it) is a failure to reach the endpoint."""
    seen = 0
    e: BaseException | None = err
    while e is not None and seen < 8:
        if isinstance(e, (ConnectionError, TimeoutError)) or type(e).__name__ in UNREACHABLE:
            return True
        e = e.__cause__ or e.__context__
        seen += 1
    return False


#: Seconds between two probes of an endpoint that could not be reached.
PROBE_EVERY = 1.0


class Uploader:
    """Ships the finished segments of ``spool`` to ``cfg.s3_url``, in a daemon thread."""

    def __init__(self, cfg: EdgeConfig, on_uploaded: Callable[[dict[str, Any]], None],
                 on_error: Callable[[str], None]) -> None:
        self.cfg = cfg
        self.root = Path(cfg.spool)
        self.remote = cfg.s3_url.rstrip("/")[len("s3://"):]  # type: ignore[union-attr]
        self.on_uploaded = on_uploaded
        self.on_error = on_error
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.state = "idle"
        self.next_try = 0.0
        self.attempt = 0
        self.resumed_by_probe = 0  # waits cut short because the endpoint answered again
        self.fs: Any = None
        self._target = ""  # the object being written or read (named when S3 refuses)

    def _redact(self, text: str) -> str:
        for secret in (self.cfg.s3_key, self.cfg.s3_secret):
            if secret:
                text = text.replace(secret, "***")
        return text

    def pending(self) -> list[Path]:
        """Manifests of local segments of this vehicle, oldest first."""
        base = self.root / "raw" / f"vehicle={self.cfg.vehicle}"
        if not base.exists():
            return []
        # pathlib's glob matches dot files too: a manifest being written is
        # ".tmp-<name>" until renamed, and taking it failed the upload with a back-off
        return sorted((p for p in base.glob("date=*/*.zarr.manifest.json")
                       if not p.name.startswith(".")),
                      key=lambda p: (p.parent.name, p.name))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="uploader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def kick(self) -> None:
        """A new segment is ready: try now."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            todo = self.pending()
            if not todo:
                self.state = "idle"
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                if self.fs is None:
                    self.fs = make_filesystem(self.cfg)
                for man in todo:
                    if self._stop.is_set():
                        break
                    if self.attempt == 0:  # while retrying we stay "offline" until one succeeds
                        self.state = "uploading"
                    self.on_uploaded(self.upload(man))
                    self.attempt = 0
                    self.state = "uploading"
            except Exception as err:  # network, credentials, server: retried, never fatal
                self.attempt += 1
                delay = retry_delay(self.attempt, self.cfg.upload_retry_base,
                                    self.cfg.upload_retry_max)
                if isinstance(err, PermissionError):  # S3 refused these credentials
                    msg = self._redact(
                        f"upload refused: these credentials may not write s3://{self._target} "
                        f"({err}); a vehicle's credentials must allow s3:PutObject, "
                        f"s3:GetObject and s3:ListBucket under s3://{self.remote}/raw/"
                        f"vehicle={self.cfg.vehicle}/ (is vehicle = {self.cfg.vehicle!r} "
                        f"right?); segments stay in the spool; retry {self.attempt} in "
                        f"{delay:.1f} s")
                    self.state = "refused"
                else:
                    msg = self._redact(f"upload failed ({type(err).__name__}: {err}); "
                                       f"retry {self.attempt} in {delay:.1f} s")
                    self.state = "offline"
                self.next_try = time.time() + delay
                (log.error if self.state == "refused" else log.warning)("%s", msg)
                self.on_error(msg)
                self.fs = None  # new connection (and credentials) next time
                self._wait(delay, probe=unreachable(err))

    def _wait(self, delay: float, probe: bool) -> None:
        """Sleep ``delay`` seconds (or until stopped); with ``probe``, end early as soon as
        the endpoint answers HTTP again (any status: it is back), checked every
        :data:`PROBE_EVERY` seconds, so the backlog goes as soon as the network returns."""
        t_end = time.monotonic() + delay
        while not self._stop.is_set():
            left = t_end - time.monotonic()
            if left <= 0:
                return
            if self._stop.wait(min(PROBE_EVERY, left)):
                return
            if probe and self._answers():
                self.resumed_by_probe += 1
                self.next_try = time.time()  # the status says "now", not the old plan
                return

    def _answers(self) -> bool:
        """Whether the endpoint answers an HTTP request within ``upload_timeout``."""
        import urllib.error
        import urllib.request

        url = self.cfg.s3_endpoint_url or "https://s3.amazonaws.com"
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"),
                                   timeout=min(self.cfg.upload_timeout, PROBE_EVERY))
            return True
        except urllib.error.HTTPError:
            return True  # an answer, if not a welcome one
        except (OSError, ValueError):
            return False

    def upload(self, man_path: Path) -> tuple[dict[str, Any], float]:
        """Upload one segment and verify it; delete the local copy; return its manifest."""
        manifest = json.loads(man_path.read_text())
        key = manifest["key"]
        local = self.root / key
        base = f"{self.remote}/{key}"
        fs = self.fs
        remote_man = f"{base}.manifest.json"
        done = False
        self._target = remote_man
        if fs.exists(remote_man):
            theirs = json.loads(fs.cat(remote_man))
            done = theirs.get("frames_sha256") == manifest["frames_sha256"] and \
                theirs.get("files") == manifest["files"]
        if not done:
            # one listing instead of a request per file: what is there already, with ETags
            have = self._listing(base)
            # S3's ETag of a one-part upload is the MD5 the manifest lists (a local file that
            # changed since would not verify)
            etags = {rel: info.get("md5") or file_md5(local / rel)
                     for rel, info in manifest["files"].items()}
            for rel, info in sorted(manifest["files"].items()):
                dst = f"{base}/{rel}"
                want = etags[rel]
                h = have.get(dst)
                if h is None or h.get("size") != info["size"] or \
                        str(h.get("ETag", "")).strip('"') != want:
                    self._target = dst
                    fs.put_file(local / rel, dst)
            after = self._listing(base)
            for rel, info in manifest["files"].items():
                dst = f"{base}/{rel}"
                h = after.get(dst)
                want = etags[rel]
                if h is None or h.get("size") != info["size"] or \
                        str(h.get("ETag", "")).strip('"') != want:
                    raise UploadError(f"{dst}: uploaded object does not verify (size "
                                      f"{None if h is None else h.get('size')} vs {info['size']}, "
                                      "or ETag)")
            self._target = remote_man
            fs.put_file(man_path, remote_man)
            if fs.size(remote_man) != man_path.stat().st_size:
                raise UploadError(f"{remote_man}: manifest does not verify")
        # verified: the local copy may go
        man_path.unlink()
        shutil.rmtree(local, ignore_errors=True)
        return manifest

    def _listing(self, base: str) -> dict[str, dict]:
        """``{path: info}`` of every object under ``base``."""
        self._target = base + "/"
        try:
            return self.fs.listing(base)
        except FileNotFoundError:
            return {}

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
