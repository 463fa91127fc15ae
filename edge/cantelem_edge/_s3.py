"""The few S3 calls the uploader makes, on botocore's synchronous client.

s3fs brings aiohttp, aiobotocore and fsspec into the logger's process for five calls: about
10 MB of resident memory that a Raspberry Pi class device does not have to spare (the
logger stays under 80 MB at 500 frames/s with uploads; see ``./run bench edge``). botocore
gives the same credential chain (keys, profiles with ``credential_process``/SSO/web
identity, the environment, instance roles), endpoints and signatures. The fleet side keeps
s3fs: it reads and writes whole stores through fsspec.

Paths are ``bucket/key`` strings, as in s3fs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["S3Client"]

#: Error codes that mean "these credentials may not" (raised as PermissionError).
DENIED = {"AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch",
          "ExpiredToken", "InvalidToken", "AllAccessDisabled"}
NOT_FOUND = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}


def _split(path: str) -> tuple[str, str]:
    bucket, _, key = path.partition("/")
    return bucket, key


class S3Client:
    """An S3 client for the configured endpoint: credentials from ``s3_key``/``s3_secret``,
    else the profile ``s3_profile``, else the standard AWS chain; one attempt per call within
    ``upload_timeout`` (the uploader's own backoff decides when to try again).

    Example
    -------
    ::

        s3 = S3Client(cfg)
        s3.put_file("segment/time/c/0", "bucket/fleet/raw/.../time/c/0")
    """

    def __init__(self, cfg: Any) -> None:
        import botocore.config
        import botocore.session

        session = botocore.session.Session(
            profile=cfg.s3_profile if cfg.s3_profile and not cfg.s3_key else None)
        config = botocore.config.Config(
            retries={"total_max_attempts": 1}, connect_timeout=cfg.upload_timeout,
            read_timeout=cfg.upload_timeout)
        kw: dict[str, Any] = {}
        if cfg.s3_key:
            kw = {"aws_access_key_id": cfg.s3_key, "aws_secret_access_key": cfg.s3_secret}
        self.client = session.create_client(
            "s3", endpoint_url=cfg.s3_endpoint_url or None, config=config,
            region_name=session.get_config_variable("region") or "us-east-1", **kw)

    def _call(self, op: str, path: str, **kw: Any) -> Any:
        from botocore.exceptions import ClientError

        bucket, key = _split(path)
        try:
            return getattr(self.client, op)(Bucket=bucket, **({"Key": key} if key else {}),
                                            **kw)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            message = err.response.get("Error", {}).get("Message") or code
            if code in DENIED:
                raise PermissionError(f"{code}: {message}") from err
            if code in NOT_FOUND:
                raise FileNotFoundError(f"s3://{path}: {code}") from err
            raise

    def exists(self, path: str) -> bool:
        try:
            self._call("head_object", path)
            return True
        except FileNotFoundError:
            return False

    def size(self, path: str) -> int:
        return int(self._call("head_object", path)["ContentLength"])

    def cat(self, path: str) -> bytes:
        body = self._call("get_object", path)["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def put_file(self, local: str | Path, path: str) -> None:
        with open(local, "rb") as fh:
            self._call("put_object", path, Body=fh)

    def listing(self, prefix: str) -> dict[str, dict[str, Any]]:
        """``{bucket/key: {"size", "ETag"}}`` of every object under ``prefix/``."""
        bucket, key = _split(prefix.rstrip("/") + "/")
        out: dict[str, dict[str, Any]] = {}
        token: dict[str, Any] = {}
        while True:
            page = self._call("list_objects_v2", bucket, Prefix=key, **token)
            for obj in page.get("Contents", []):
                out[f"{bucket}/{obj['Key']}"] = {"size": int(obj["Size"]),
                                                 "ETag": str(obj.get("ETag", "")).strip('"')}
            if not page.get("IsTruncated"):
                return out
            token = {"ContinuationToken": page["NextContinuationToken"]}
