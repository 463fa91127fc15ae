"""A decoded vehicle-day as parts: which segments each part decodes, with which neighbours,
under which version, and the day's ``current.json`` made from its parts' records.

The unit of the decode job is a part, never a whole day, so a worker holds at most one
part in memory and a new segment costs only itself:

* The day's segments are grouped by the UTC hour in which they start. An hour is
  *closed* once the vehicle has a segment starting in a later hour (of any day), or once
  :data:`CLOSE_AFTER_NS` have passed since it ended: its segments decode together as one
  part. An hour not closed (a vehicle's newest, while it may still get segments) decodes
  as one part per segment. When the hour closes, its per-segment parts are replaced by one
  part of the hour (compaction: the same frames in fewer files, decoded again from the raw
  segments of that hour only). A part has a fixed cost per array written (about 1-3 ms
  each, 150 arrays for the sample DBC), so an hour's part is 10x cheaper per frame than
  its 5-minute segments' parts.
* Segments filed under another day whose GPS fixes fall on this day make one part holding
  only those fixes.
* Frames equal in every field are one frame, whose first copy in segment (key) order
  decides the part it belongs to: a part reads the day's segments it overlaps in time
  (its *context*) to leave out frames they hold first (:func:`order_frames` with ``own``).
* A vehicle group with diagnostic protocols (ISO-TP, J1939 transport, OBD-II) also reads
  the last :data:`LEAD_NS` of the segment before the part (its *lead-in*), so a message
  sent across the boundary is reassembled; rows before the part's own first frame are left
  to the part before.

What a part holds is a function of the vehicle's segments (and of which hours the clock has
closed), never of the order they came in: appending segments one job at a time gives the
store one job over all of them gives. Its
name is a hash of the decoder format, the DBC, its own segments and its context and
lead-in segments (keys and checksums); the day's ``version`` is a hash of its parts' names.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DECODED_FORMAT = "cantelem.decoded/2"
#: part of every part's name: a change in what the job makes of the same segments (here:
#: parts by segment and closed hour, frames sorted and deduplicated) decodes every day again
DECODE_RULES = "parts-by-hour/1"
#: how far before a part its lead-in reaches (ISO-TP and J1939 transport time out within
#: 1.25 s; a slow ECU's multi-frame answer within a few)
LEAD_NS = 5_000_000_000
HOUR_NS = 3_600 * 10**9
#: an hour is closed this long after its end (segments still being uploaded), if no later
#: segment closed it before
CLOSE_AFTER_NS = 900 * 10**9


def day_key(vehicle: str, date: str) -> str:
    return f"decoded/vehicle={vehicle}/date={date}"


@dataclass
class PartTask:
    """One part of a vehicle-day to decode: its ``keys`` (own segments), the ``context``
    segments it overlaps, the ``lead`` segment (protocol groups), and for a GPS-only part
    (``gps_only``) the other days' segments whose fixes it holds."""

    vehicle: str
    date: str
    name: str
    keys: list[str]
    shas: list[str]
    frames: int
    start_ns: int
    context: list[str] = field(default_factory=list)
    lead: str | None = None
    gps_only: bool = False
    #: the vehicle's DBC group and its checksum (set by the job's plan)
    group: Any = None
    dbc_sha: str = ""


@dataclass
class DayTask:
    """A vehicle-day whose ``current.json`` is to be (re)written: every part it has
    (``names``, in order), those to decode first (``parts``), the records of those already
    there (``have``), and what decodes it."""

    vehicle: str
    date: str
    version: str
    names: list[str]
    parts: list[PartTask]
    have: dict[str, dict[str, Any]]
    group: Any
    dbc_sha: str
    #: frames of the parts to decode
    frames: int = 0


def _hour(ns: int) -> int:
    return int(ns) // HOUR_NS


def _name(kind: str, dsha: str, own: list[dict], context: list[dict],
          lead: dict | None) -> str:
    h = hashlib.sha256(f"{DECODED_FORMAT}|{DECODE_RULES}|{dsha}|{kind}".encode())
    for tag, segs in (("own", own), ("ctx", context), ("lead", [lead] if lead else [])):
        for s in segs:
            h.update(f"|{tag}:{s['key']}:{s['sha256']}".encode())
    return h.hexdigest()[:20]


def _overlapping(segs: list[dict], own: list[dict], lo: str, hi: str) -> list[dict]:
    """Segments of ``segs`` outside ``own`` whose time span overlaps ``own``'s (by the
    index fields ``lo``/``hi``), in key order."""
    keys = {s["key"] for s in own}
    a = min(s[lo] for s in own)
    b = max(s[hi] for s in own)
    return sorted((s for s in segs if s["key"] not in keys and s[lo] <= b and s[hi] >= a),
                  key=lambda s: s["key"])


def day_parts(vehicle: str, date: str, day_segs: list[dict], all_segs: list[dict],
              gps_segs: list[dict], dsha: str, protocols: bool, now_ns: int | None = None
              ) -> list[PartTask]:
    """The parts of one vehicle-day, in time order.

    ``day_segs``: the index entries of the segments filed under ``date``; ``all_segs``: every
    segment of the vehicle not retired (for closed hours and lead-ins); ``gps_segs``: other
    days' segments with fixes on ``date``; ``protocols``: whether the vehicle's group decodes
    transport protocols (lead-ins); ``now_ns``: the time the hours are closed at (None:
    only later segments close an hour)."""
    newest = max((_hour(s["start_ns"]) for s in all_segs), default=None)
    if now_ns is not None:  # hours that ended CLOSE_AFTER_NS ago are closed too
        newest = max(newest or 0, _hour(now_ns - CLOSE_AFTER_NS))
    by_hour: dict[int, list[dict]] = {}
    for s in sorted(day_segs, key=lambda s: s["key"]):
        by_hour.setdefault(_hour(s["start_ns"]), []).append(s)
    groups: list[list[dict]] = []
    for hour, segs in sorted(by_hour.items()):
        if newest is not None and hour < newest:  # closed: one part of the hour
            groups.append(segs)
        else:
            groups.extend([s] for s in segs)
    by_start = sorted(all_segs, key=lambda s: (s["start_ns"], s["key"]))
    out = []
    for own in groups:
        context = _overlapping(day_segs, own, "start_ns", "end_ns")
        lead = _lead(by_start, own) if protocols else None
        name = _name("frames", dsha, own, context, lead)
        out.append(PartTask(vehicle, date, name, [s["key"] for s in own],
                            [s["sha256"] for s in own], sum(s["frames"] for s in own),
                            min(s["start_ns"] for s in own), [s["key"] for s in context],
                            lead["key"] if lead else None))
    if gps_segs:
        own = sorted(gps_segs, key=lambda s: s["key"])
        # this day's own segments come first in the fixes' order (their parts hold them)
        context = [s for s in sorted(day_segs, key=lambda s: s["key"]) if s.get("gps")]
        name = _name("gps", dsha, own, context, None)
        out.append(PartTask(vehicle, date, name, [s["key"] for s in own],
                            [s["sha256"] for s in own], 0,
                            min(s.get("gps_start_ns", s["start_ns"]) for s in own),
                            [s["key"] for s in context], None, gps_only=True))
    return sorted(out, key=lambda p: (p.start_ns, p.name))


def _lead(by_start: list[dict], own: list[dict]) -> dict | None:
    """The segment that ends last before ``own`` begins, within :data:`LEAD_NS`."""
    keys = {s["key"] for s in own}
    t0 = min(s["start_ns"] for s in own)
    before = [s for s in by_start if s["key"] not in keys and s["start_ns"] < t0
              and s["end_ns"] >= t0 - LEAD_NS]
    return max(before, key=lambda s: (s["end_ns"], s["key"])) if before else None


def day_version(names: list[str]) -> str:
    return hashlib.sha256("|".join(names).encode()).hexdigest()[:20]


def parts_of(cur: dict[str, Any]) -> list[dict[str, Any]]:
    """The parts of a published day (``current.json``): a record each with ``name`` (its
    Zarr folder in the day's folder is ``<name>.zarr``) and ``messages``. A day written whole (one
    ``<version>.zarr``) is one part."""
    if "parts" in cur:
        return cur["parts"]
    if not cur.get("version"):
        return []
    return [{"name": cur["version"], "messages": cur.get("messages", {}),
             "files": cur.get("files")}]


def merge_messages(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The day's per-message summary from its parts': frames summed, the time span, signal
    attributes (units and range from the first part holding them, out-of-range counts
    summed), the sending ECUs (each once, when the parts record them)."""
    out: dict[str, Any] = {}
    for r in records:
        for m, info in r.get("messages", {}).items():
            if m not in out:
                out[m] = {"frames": 0, "start_ns": None, "end_ns": None, "signals": {}}
            o = out[m]
            o["frames"] += info["frames"]
            if "senders" in info:
                have = o.setdefault("senders", [])
                have += [e for e in info["senders"] if e not in have]
            for k, f in (("start_ns", min), ("end_ns", max)):
                if info.get(k) is not None:
                    o[k] = info[k] if o[k] is None else f(o[k], info[k])
            for s, a in info.get("signals", {}).items():
                if s not in o["signals"]:
                    o["signals"][s] = dict(a)
                else:
                    n = (o["signals"][s].get("out_of_range_count") or 0) + (
                        a.get("out_of_range_count") or 0)
                    o["signals"][s]["out_of_range_count"] = n
    return out


def _merge_obd(records: list[dict[str, Any]]) -> dict[str, Any]:
    """OBD-II facts of the parts, per ECU: lists joined (each item once), counts summed,
    other values from the first part."""
    out: dict[str, Any] = {}
    for r in records:
        for ecu, facts in (r.get("obd2") or {}).items():
            o = out.setdefault(ecu, {})
            for k, v in facts.items():
                if k not in o:
                    o[k] = list(v) if isinstance(v, list) else (dict(v) if isinstance(v, dict)
                                                                 else v)
                elif isinstance(v, list):
                    o[k] += [x for x in v if x not in o[k]]
                elif isinstance(v, dict):
                    for kk, vv in v.items():
                        o[k][kk] = o[k].get(kk, 0) + vv if isinstance(vv, (int, float)) \
                            and not isinstance(vv, bool) else o[k].get(kk, vv)
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    o[k] += v
    return out


def _continued(rec: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    """``rec`` without its messages left incomplete at its end when another part reads its
    segments as a lead-in (that part reassembles them)."""
    segs = set(rec["segments"])
    if not any(r.get("lead") in segs for r in records if r is not rec):
        return rec
    obd = {}
    for ecu, facts in rec["obd2"].items():
        f = dict(facts)
        if "problems" in f:
            f["problems"] = {k: v for k, v in f["problems"].items() if k != "incomplete_at_end"}
            if not f["problems"]:
                del f["problems"]
        obd[ecu] = f
    return {**rec, "obd2": obd}


def current_doc(day: DayTask, records: list[dict[str, Any]]) -> dict[str, Any]:
    """A day's ``current.json`` from its parts' records (in the day's order)."""
    cur: dict[str, Any] = {
        "version": day.version, "dbc_sha256": day.dbc_sha, "dbc_group": day.group.name,
        "vehicle": day.vehicle, "date": day.date, "format": DECODED_FORMAT,
        "source_segments": sorted({k for r in records if not r.get("gps_only")
                                   for k in r["segments"]}),
        "quarantined": [q for r in records for q in r["quarantined"]],
        "frames": sum(r["frames"] for r in records),
        "messages": merge_messages(records),
        "duplicates": sum(r.get("duplicates", 0) for r in records),
        "clock_steps": sum(r.get("clock_steps", 0) for r in records),
        "clock_step_max_ns": max((r.get("clock_step_max_ns", 0) for r in records), default=0),
        "parts": records}
    obd = [_continued(r, records) for r in records if "obd2" in r]
    if obd:
        cur["obd2"] = _merge_obd(obd)
    return cur


def time_order(parts: list[np.ndarray]) -> bool:
    """Whether arrays of times, end to end, are in order (each sorted, none overlapping)."""
    prev = None
    for t in parts:
        if not t.size:
            continue
        if t.size > 1 and not bool((t[1:] >= t[:-1]).all()):
            return False
        if prev is not None and t[0] < prev:
            return False
        prev = t[-1]
    return True
