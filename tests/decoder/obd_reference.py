"""The step-by-step OBD-II decode the fused scan (``decoder/_obd_scan.py``) must agree with:
streams by ``np.unique``, ISO-TP by ``reassemble`` (itself checked against can-isotp), the
answers split into PIDs in plain Python. Returns what the comparison needs: per node the
times, channels and data rows; per ECU the info dict."""

from __future__ import annotations

import numpy as np

from cantelem_sci.decoder._isotp import PROBLEMS, reassemble
from cantelem_sci.decoder._obd import _EXT, ecu_name, is_obd_response
from cantelem_sci.decoder._obd_pids import INFO_TYPES, PIDS, pid_lengths


def reference(batch) -> tuple[dict[str, tuple], dict[str, dict]]:
    sel = np.flatnonzero(is_obd_response(batch.arbitration_id, batch.is_extended)
                         & ~batch.is_remote & ~batch.is_error)
    info: dict[str, dict] = {}
    if not sel.size:
        return {}, info
    key = (batch.channel[sel].astype(np.int64) << 32) | batch.arbitration_id[sel]
    ukeys, stream = np.unique(key, return_inverse=True)
    r = reassemble(stream, batch.data[sel], batch.dlc[sel], len(ukeys))
    names = []
    for k in ukeys.tolist():
        aid = k & 0xFFFFFFFF
        name = ecu_name(aid, aid > 0x7FF)
        if len({kk >> 32 for kk in ukeys.tolist() if kk & 0xFFFFFFFF == aid}) > 1:
            name = f"{batch.channel_names[k >> 32]}_{name}"  # the same id on two channels
        names.append(name)
        info.setdefault(names[-1], {"channel": batch.channel_names[k >> 32]})
    for code, frame in zip(r.problem_code.tolist(), r.problem_frame.tolist()):
        pr = info[names[stream[frame]]].setdefault("problems", {})
        pr[PROBLEMS[code]] = pr.get(PROBLEMS[code], 0) + 1
    lens = pid_lengths()
    rows: dict[tuple[str, int, int], list] = {}
    for m in range(r.length.size):
        p = bytes(r.buf[r.offset[m]:r.offset[m] + r.length[m]])
        e = info[names[r.stream[m]]]
        last = sel[r.last[m]]
        if len(p) >= 3 and p[0] == 0x7F:
            neg = e.setdefault("negative", {})
            neg[f"{p[1]:02X}:{p[2]:02X}"] = neg.get(f"{p[1]:02X}:{p[2]:02X}", 0) + 1
        elif len(p) >= 3 and p[0] == 0x49 and p[1] in INFO_TYPES:
            name, size = INFO_TYPES[p[1]]
            e[name] = p[3:3 + size * max(1, p[2])].replace(b"\0", b"").decode(
                "ascii", "replace").strip()
        elif len(p) >= 2 and p[0] in (0x41, 0x42):
            head = 1 if p[0] == 0x41 else 2
            k = 1
            while k < len(p):
                pid = p[k]
                ln = int(lens[pid])
                if ln == 0 or k + head + ln > len(p):
                    break
                d = p[k + 1:k + head + ln]
                if head == 2:
                    d = d[1:] + d[:1]
                rows.setdefault((names[r.stream[m]], p[0] - 0x40, pid), []).append((last, d))
                k += head + ln
    nodes = {}
    for (ecu, svc, pid), rr in rows.items():
        idx = np.array([x[0] for x in rr])
        nodes[f"OBD2_{ecu}_{svc:02X}{pid:02X}"] = (
            batch.time[idx], batch.channel[idx], np.array([list(x[1]) for x in rr], np.uint8))
    for (ecu, svc, pid), rr in rows.items():
        if pid % 0x20 == 0 and svc == 1:
            sup = info[ecu].setdefault("supported_pids", [])
            for _, d in rr:
                bits = int.from_bytes(d, "big")
                sup += [pid + 1 + b for b in range(32) if bits >> (31 - b) & 1
                        and pid + 1 + b not in sup]
            sup.sort()
    assert PIDS and _EXT
    return nodes, info
