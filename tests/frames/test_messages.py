"""frames.from_messages: python-can messages to a FrameBatch, against python-can's own
messages field by field."""

from __future__ import annotations

from fractions import Fraction

import can
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cantelem_sci.errors import FrameFormatError
from cantelem_sci.frames import from_messages

messages = st.builds(
    lambda ts, ext, aid, data, fd, rtr, err, ch, rx: can.Message(
        timestamp=ts, arbitration_id=aid & (0x1FFFFFFF if ext else 0x7FF), is_extended_id=ext,
        data=None if rtr else data[: (64 if fd else 8)], is_fd=fd and not rtr,
        is_remote_frame=rtr and not err, is_error_frame=err, dlc=0 if rtr else None,
        channel=ch, is_rx=rx),
    st.floats(0, 4e9), st.booleans(), st.integers(0, 0x1FFFFFFF), st.binary(max_size=64),
    st.booleans(), st.booleans(), st.booleans(), st.sampled_from(["a", "b", 3, None]),
    st.booleans())


@given(st.lists(messages, max_size=30), st.sampled_from([(), ("b",), ("x", "a")]))
def test_every_field_as_python_can_gives_it(msgs, names):
    b = from_messages(msgs, names, default_channel="dflt")
    assert len(b) == len(msgs)
    assert list(b.channel_names)[:len(names)] == list(names)
    width = b.data.shape[1]
    assert width == (64 if any(m.is_fd or m.dlc > 8 or len(m.data) > 8 for m in msgs) else 8)
    for i, m in enumerate(msgs):
        assert b.time[i] == round(Fraction(m.timestamp) * 10**9)
        assert b.arbitration_id[i] == m.arbitration_id
        assert (bool(b.is_extended[i]), bool(b.is_fd[i]), bool(b.is_remote[i]),
                bool(b.is_error[i]), bool(b.is_rx[i])) == (
            m.is_extended_id, m.is_fd, m.is_remote_frame, m.is_error_frame, m.is_rx)
        n = len(m.data)
        assert bytes(b.data[i, :n]) == bytes(m.data) and not b.data[i, n:].any()
        assert b.dlc[i] == (min(m.dlc, n) if m.is_error_frame else m.dlc)
        assert b.channel_names[b.channel[i]] == ("dflt" if m.channel is None else str(m.channel))


@pytest.mark.parametrize("dlc,data", [(65, 64), (64, 65)])
def test_a_frame_longer_than_64_bytes_is_refused_by_frame_and_id(dlc, data):
    m = can.Message(arbitration_id=0x12, data=b"\1" * data, is_extended_id=False, is_fd=True,
                    check=False)
    m.dlc = dlc
    with pytest.raises(FrameFormatError, match=rf"frame 1 \(id 0x12\): dlc {dlc} and {data} "
                       "data bytes; expected at most 64"):
        from_messages([can.Message(arbitration_id=1, data=b""), m])


def test_no_messages():
    b = from_messages([], ["can0"])
    assert len(b) == 0 and b.channel_names == ["can0"] and b.data.shape == (0, 8)
    assert np.asarray(b.is_rx).shape == (0,)
