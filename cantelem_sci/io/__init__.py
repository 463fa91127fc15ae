"""Wire and storage formats shared by the edge logger and the analysis side.

Light by design (numpy and the standard library; paho-mqtt on first connection), so the
edge logger can depend on it. The live telemetry path: :func:`encode_samples` /
:func:`decode_message` (schema ``cantelem.live`` version 1, ``docs/live.md``), the topic
layout (:func:`live_topic`), broker settings with masked credentials
(:class:`BrokerSettings`, :func:`redact_url`), connections (:func:`connect`), the
subscriber's state (:class:`LiveFeed`) and a broker for machines without one
(:class:`EmbeddedBroker`). The durable path: the write-ahead journal
(:class:`JournalWriter`, :func:`read_journal`), where a vehicle's journals live in a spool
(:func:`state_dir`) and what they hold (:func:`durable_frames`). Stores of segments and
decoded days: :class:`Store` (:class:`LocalStore`, :class:`FsspecStore`); raw segments,
written and read (:func:`write_segment`, :func:`read_segment`).
"""

from ._broker import EmbeddedBroker
from ._flock import release_flock, try_flock
from ._journal import (
    GPS_FLOAT,
    GPS_INT,
    JOURNAL_GLOB,
    JournalContents,
    JournalWriter,
    durable_frames,
    fsync_dir,
    journal_path,
    read_journal,
    state_dir,
)
from ._live_feed import LiveFeed
from ._live_payload import (
    LIVE_SCHEMA,
    LIVE_VERSION,
    MAX_PAYLOAD,
    SEGMENT_RE,
    LiveAlert,
    LiveSamples,
    LiveStatus,
    check_topic_segment,
    decode_message,
    encode_samples,
    encode_status,
    live_topic,
)
from ._mqtt import BrokerSettings, connect, redact_url
from ._segment import (
    file_md5,
    frames_checksum,
    read_segment,
    read_segment_times,
    remove_temporaries,
    segment_key,
    write_segment,
)
from ._store import FsspecStore, LocalStore, Store

__all__ = [
    "file_md5",
    "GPS_FLOAT",
    "GPS_INT",
    "JOURNAL_GLOB",
    "LIVE_SCHEMA",
    "LIVE_VERSION",
    "MAX_PAYLOAD",
    "SEGMENT_RE",
    "BrokerSettings",
    "EmbeddedBroker",
    "FsspecStore",
    "JournalContents",
    "JournalWriter",
    "LiveAlert",
    "LiveFeed",
    "LiveSamples",
    "LiveStatus",
    "LocalStore",
    "Store",
    "check_topic_segment",
    "connect",
    "decode_message",
    "durable_frames",
    "encode_samples",
    "encode_status",
    "frames_checksum",
    "fsync_dir",
    "journal_path",
    "live_topic",
    "read_journal",
    "read_segment",
    "read_segment_times",
    "redact_url",
    "release_flock",
    "remove_temporaries",
    "segment_key",
    "state_dir",
    "try_flock",
    "write_segment",
]
