"""Scoped credentials, checked by moto with IAM enforcement on: each vehicle's key may write
only under ``raw/vehicle=<its id>/``. EV0001 uploads with its own key; with EV0001's key a
logger that calls itself EV0002 is refused, says so clearly, and keeps every segment; short
lived credentials from an AWS profile's ``credential_process`` upload too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.s3, pytest.mark.slow]


def _policy(bucket: str, vehicle: str) -> dict:
    prefix = f"fleet/raw/vehicle={vehicle}/"
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": f"arn:aws:s3:::{bucket}/{prefix}*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": f"{prefix}*"}}}]}


@pytest.fixture
def iam_bucket(moto_s3, s3_bucket):
    """The bucket, one IAM user per vehicle limited to its prefix, and IAM enforcement on
    for the duration of the test (moto's reset-auth; off again afterwards)."""
    import boto3

    iam = boto3.client("iam", endpoint_url=moto_s3.endpoint_url, region_name="us-east-1")
    keys = {}
    for v in ("EV0001", "EV0002"):
        user = f"{v}-{s3_bucket}"
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="own-prefix",
                            PolicyDocument=json.dumps(_policy(s3_bucket, v)))
        k = iam.create_access_key(UserName=user)["AccessKey"]
        keys[v] = (k["AccessKeyId"], k["SecretAccessKey"])
    reset = f"{moto_s3.endpoint_url}/moto-api/reset-auth"
    assert requests.post(reset, data=b"0", timeout=10).ok
    try:
        yield s3_bucket, keys
    finally:
        requests.post(reset, data=b"inf", timeout=10)


def _run(tmp_path: Path, name: str, vehicle: str, endpoint: str, bucket: str, env: dict,
         *extra: str) -> tuple[subprocess.CompletedProcess, dict, Path]:
    spool = tmp_path / name
    status = tmp_path / f"{name}.json"
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update(AWS_DEFAULT_REGION="us-east-1", CANTELEM_EDGE_UPLOAD_RETRY_BASE="30",
                CANTELEM_EDGE_SEGMENT_SECONDS="10", **env)
    out = subprocess.run(
        [sys.executable, "-m", "cantelem_edge", "run", "--vehicle", vehicle, "--spool",
         str(spool), "--source", "sim:20x", "--duration", "2.5", "--s3-url",
         f"s3://{bucket}/fleet", "--s3-endpoint-url", endpoint, "--status-path", str(status),
         *extra], capture_output=True, text=True, env=base, timeout=120)
    return out, json.loads(status.read_text()), spool


def _remote(moto_s3, bucket: str, vehicle: str) -> list[str]:
    fs = moto_s3.fs()  # after the test's enforcement: the fixture turned it off
    try:
        return sorted(p for p in fs.find(f"{bucket}/fleet/raw/vehicle={vehicle}/")
                      if p.endswith(".manifest.json"))
    except FileNotFoundError:
        return []


def test_a_vehicle_writes_under_its_own_prefix_only(tmp_path, moto_s3, iam_bucket):
    bucket, keys = iam_bucket
    key, secret = keys["EV0001"]
    env = {"CANTELEM_EDGE_S3_KEY": key, "CANTELEM_EDGE_S3_SECRET": secret}
    out, st, spool = _run(tmp_path, "own", "EV0001", moto_s3.endpoint_url, bucket, env)
    assert out.returncode == 0, out.stderr
    assert st["segments"]["uploaded"] == st["segments"]["written"] > 0, st["errors"]
    assert st["frames"]["uploaded"] == st["frames"]["durable"] > 0
    assert not list(spool.rglob("*.manifest.json"))  # uploaded, verified, deleted locally

    out, st, spool = _run(tmp_path, "other", "EV0002", moto_s3.endpoint_url, bucket, env)
    assert out.returncode == 0, out.stderr
    assert st["frames"]["uploaded"] == 0 and st["upload"]["state"] == "refused"
    said = [e for e in st["errors"] if "upload refused" in e]
    assert said and f"may not write s3://{bucket}/fleet/raw/vehicle=EV0002/" in said[0]
    assert "vehicle = 'EV0002'" in said[0] and "segments stay in the spool" in said[0]
    assert "upload refused: these credentials may not write" in out.stderr
    assert secret not in out.stderr + json.dumps(st)
    kept = sum(json.loads(m.read_text())["frame_count"] for m in spool.rglob("*.manifest.json"))
    assert kept == st["frames"]["durable"] == st["frames"]["in_segments"] > 0  # nothing lost

    requests.post(f"{moto_s3.endpoint_url}/moto-api/reset-auth", data=b"inf", timeout=10)
    assert len(_remote(moto_s3, bucket, "EV0001")) > 0
    assert _remote(moto_s3, bucket, "EV0002") == []


def test_short_lived_credentials_from_a_credential_process(tmp_path, moto_s3, iam_bucket):
    """An AWS profile whose credential_process prints EV0001's key with an expiry, as
    AWS IAM Roles Anywhere or a vault helper does; the logger names only the profile."""
    bucket, keys = iam_bucket
    key, secret = keys["EV0001"]
    calls = tmp_path / "calls"
    helper = tmp_path / "creds.py"
    helper.write_text(
        "import datetime, json, pathlib\n"
        f"pathlib.Path({str(calls)!r}).open('a').write('x')\n"
        "exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=20)\n"
        f"print(json.dumps({{'Version': 1, 'AccessKeyId': {key!r}, "
        f"'SecretAccessKey': {secret!r}, 'Expiration': exp.isoformat()}}))\n")
    config = tmp_path / "aws-config"
    config.write_text(f"[profile ev1]\ncredential_process = {sys.executable} {helper}\n")
    env = {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no")}
    out, st, spool = _run(tmp_path, "profile", "EV0001", moto_s3.endpoint_url, bucket, env,
                          "--s3-profile", "ev1")
    assert out.returncode == 0, out.stderr
    assert st["segments"]["uploaded"] == st["segments"]["written"] > 0, st["errors"]
    assert calls.read_text().startswith("x")  # the helper gave the credentials
    assert secret not in out.stderr + json.dumps(st)
