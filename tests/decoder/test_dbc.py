"""DBC loading: every opendbc file loads, each leniency rule is tested, bad files fail clearly."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_sci.errors import CantelemError, DbcError, DbcLeniencyWarning
from tests.conftest import corpus_files, corpus_path

OPENDBC = corpus_files("opendbc", "*.dbc")
BAD = corpus_files("cantools-dbc", "bad/*.dbc")

HEADER = 'VERSION ""\n\nNS_ :\n\nBS_:\n\nBU_: A\n\n'


def _write(tmp_path, body: str, name: str = "t.dbc"):
    p = tmp_path / name
    p.write_text(HEADER + body)
    return p


@pytest.mark.corpus
def test_all_36_opendbc_files_load(corpus):
    assert len(OPENDBC) == 36
    for p in OPENDBC:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DbcLeniencyWarning)
            db = ct.load_dbc(p)
        assert db.messages, p.name


@pytest.mark.corpus
@pytest.mark.parametrize("name,rule", [
    ("chrysler_cusw.dbc", "R1 extended-id"),
    ("toyota_2017_ref_pt.dbc", "R2 id-too-wide"),
    ("chrysler_pacifica_2017_hybrid_generated.dbc", "R3 leading-dot"),
    ("mazda_2017.dbc", "R4 digit-name"),
    ("psa_aee2010_r3.dbc", "R4 digit-name"),
    ("honda_bosch_radarless_generated.dbc", "R5 comment-target"),
    ("hyundai_can.dbc", "R5 comment-target"),
    ("tesla_can.dbc", "R6 orphan-val"),
    ("gm_global_a_powertrain.dbc", "R6 orphan-val"),
])
def test_leniency_rules_warn_with_file_and_line(name, rule):
    p = corpus_path("opendbc", name)
    with pytest.warns(DbcLeniencyWarning, match=rule) as rec:
        ct.load_dbc(p)
    msgs = [str(w.message) for w in rec if rule in str(w.message)]
    assert msgs and all(m.startswith(f"{p}:") for m in msgs)
    with pytest.raises(DbcError, match=rf"{name}:\d+: .*\(rule R\d"):
        ct.load_dbc(p, strict=True)


@pytest.mark.corpus
def test_repairs_keep_meaning():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chrysler = ct.load_dbc(corpus_path("opendbc", "chrysler_cusw.dbc"))
        mazda = ct.load_dbc(corpus_path("opendbc", "mazda_2017.dbc"))
        psa = ct.load_dbc(corpus_path("opendbc", "psa_aee2010_r3.dbc"))
        pac = ct.load_dbc(corpus_path("opendbc", "chrysler_pacifica_2017_hybrid_generated.dbc"))
        toyota = ct.load_dbc(corpus_path("opendbc", "toyota_2017_ref_pt.dbc"))
    m = chrysler.get_message("BSM_LEFT")
    assert m.is_extended_frame and m.frame_id == 103596083
    assert "2017_5" in mazda.message_names
    assert any(s.name == "0_COUNTER" for m in psa.messages for s in m.signals)
    sig = next(s for m in pac.messages for s in m.signals if s.name == "ENGINE_TORQ_MAX")
    assert sig.scale == 0.25 and sig.offset == -500
    assert 0x40140639 in toyota.skipped


def test_hand_made_rules(tmp_path):
    body = ("BO_ 3000 Big: 8 A\n SG_ 1st : 0|8@1+ (.5,-.5) [0|1] \"\" A\n\n"
            'CM_ SG_ 3000 "comment without signal";\n'
            'VAL_ 3000 Ghost 0 "x" ;\n')
    p = _write(tmp_path, body)
    with pytest.warns(DbcLeniencyWarning) as rec:
        db = ct.load_dbc(p)
    rules = {str(w.message).split(": ")[1] for w in rec}
    assert {"R1 extended-id", "R3 leading-dot", "R4 digit-name", "R5 comment-target",
            "R6 orphan-val"} <= rules
    msg = db.get_message("Big")
    assert msg.frame_id == 3000 and msg.is_extended_frame
    assert msg.comment == "comment without signal"
    sig = msg.signals[0]
    assert (sig.name, sig.scale, sig.offset) == ("1st", 0.5, -0.5)
    raw = ct.frames([0], [3000], np.array([[4, 0, 0, 0, 0, 0, 0, 0]], np.uint8), is_extended=[True])
    assert float(ct.decode(raw, db)["Big"]["1st"][0]) == 1.5


@pytest.mark.parametrize("body,line", [
    ("BO_ 100 A: 8 A\n SG_ S : 0|8@1+ (1,0) [0|1] \"\" A\nBO_ oops\n", 11),
    ("BO_ 100 A: 8 A\n SG_ S : x|8@1+ (1,0) [0|1] \"\" A\n", 10),
    ("BO_ 100 A: 8 A\n SG_ S : 0|8@1+ (1,0 [0|1] \"\" A\n", 10),
    ('CM_ BO_ 100 "unterminated;\n', 9),
])
def test_syntax_errors_name_file_and_line(tmp_path, body, line):
    p = _write(tmp_path, body)
    with pytest.raises(DbcError) as exc:
        ct.load_dbc(p)
    # HEADER is 8 lines, so the body starts at line 9
    assert str(exc.value).startswith(f"{p}:{line}:")
    assert isinstance(exc.value, (CantelemError, ValueError))


def test_missing_file_and_bad_arguments(tmp_path):
    with pytest.raises(DbcError, match="nothere.dbc: cannot read"):
        ct.load_dbc(tmp_path / "nothere.dbc")
    with pytest.raises(DbcError, match="no DBC file"):
        ct.load_dbc([])
    with pytest.raises(DbcError, match="j1939"):
        ct.load_dbc(ct.sample_dbc_path(), j1939="maybe")


@pytest.mark.corpus
@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_bad_corpus_dbcs_fail_clearly(path):
    with pytest.raises(DbcError) as exc:
        ct.load_dbc(path, strict=True)
    text = str(exc.value)
    assert text.startswith(f"{path}:") and ":" in text[len(str(path)) + 1:]
    # lenient mode repairs what a documented rule covers, and refuses the rest clearly
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            db = ct.load_dbc(path)
        except DbcError as err:
            assert str(err).startswith(f"{path}:")
        else:
            assert db.messages
            assert rec or path.name in {"bad_message_length.dbc", "issue_63.dbc"}


def _loads_or_names_file(p) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ct.load_dbc(p)
        except DbcError as err:
            assert str(p) in str(err)


@given(st.binary(max_size=400))
def test_random_bytes_never_crash(tmp_path_factory, blob):
    p = tmp_path_factory.mktemp("dbc") / "r.dbc"
    p.write_bytes(blob)
    _loads_or_names_file(p)


@given(st.text(alphabet=st.sampled_from(list("BO_SG:|@+-()[]\"; 0123456789.\nABCmM")),
               max_size=200))
def test_random_dbc_like_text_never_crashes(tmp_path_factory, text):
    p = tmp_path_factory.mktemp("dbc") / "r.dbc"
    p.write_text(HEADER + text)
    _loads_or_names_file(p)


DUP_TEXT = ('VERSION ""\nNS_ :\nBS_:\nBU_: A\nBO_ 300 One: 8 A\n'
            ' SG_ X : 0|8@1+ (1,0) [0|255] "" A\n\nBO_ 300 Two: 8 A\n'
            ' SG_ Y : 0|8@1+ (1,0) [0|255] "" A\nVAL_ 300 Y 0 "zero" ;\n')


def test_an_id_defined_twice_in_one_dbc_keeps_the_first_with_its_signals(tmp_path):
    """R8: the later BO_ block is left out with a warning naming both lines; decoding uses
    the first message and its signals."""
    p = tmp_path / "dup.dbc"
    p.write_text(DUP_TEXT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        db = ct.load_dbc(p)
    said = [str(w.message) for w in caught if "R8" in str(w.message)]
    assert said == [f"{p}:8: R8 duplicate-id: message Two has the id 0x12c of message One "
                    "(line 5): left out, One kept with its signals"]
    assert [(m.name, [s.name for s in m.signals]) for m in db.messages] == [("One", ["X"])]
    frames = ct.frames(np.arange(3), [300, 300, 300], np.full((3, 8), 7, np.uint8))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tree = ct.decode(frames, db)
    assert not caught
    assert list(tree.children) == ["One"] and tree["One"]["X"].values.tolist() == [7, 7, 7]


def test_an_id_defined_twice_is_an_error_naming_both_lines_when_strict(tmp_path):
    p = tmp_path / "dup.dbc"
    p.write_text(DUP_TEXT)
    with pytest.raises(DbcError, match=rf"^{re.escape(str(p))}:8: message Two has the id 0x12c "
                       r"of message One \(line 5\) \(rule R8 duplicate-id; strict=True\)"):
        ct.load_dbc(p, strict=True)


def test_an_id_shared_across_files_is_warned_of_once_at_load_with_file_and_line(tmp_path):
    """Two files on one channel with one id: the later message is never matched; load_dbc
    says so once, naming both files and lines; decoding uses the first."""
    head = 'VERSION ""\nNS_ :\nBS_:\nBU_: A\n'
    p1, p2 = tmp_path / "a.dbc", tmp_path / "b.dbc"
    p1.write_text(head + 'BO_ 300 One: 8 A\n SG_ X : 0|8@1+ (1,0) [0|255] "" A\n')
    p2.write_text(head + '\n\nBO_ 300 Two: 8 A\n SG_ Y : 0|8@1+ (1,0) [0|255] "" A\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        db = ct.load_dbc([p1, p2])
    shared = [str(w.message) for w in caught if "never matched" in str(w.message)]
    assert shared == [f"{p2}:7: message Two has the id 0x12c of One ({p1}:5) and is never "
                      "matched"]
    frames = ct.frames(np.arange(3), [300, 300, 300], np.full((3, 8), 7, np.uint8))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tree = ct.decode(frames, db)
        ct.decode(frames, db)
    assert not caught
    assert list(tree.children) == ["One"] and tree["One"]["X"].values.tolist() == [7, 7, 7]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_damaged_dbc_loads_or_is_refused_at_a_line(tmp_path_factory, data):
    """The sample DBC with a line deleted, duplicated, swapped, cut short or a character
    changed: it loads, or DbcError names the file and a line of it (also where cantools'
    own error names none: the statement that makes it fail)."""
    import re

    lines = open(ct.sample_dbc_path()).read().split("\n")
    k = data.draw(st.integers(0, len(lines) - 1))
    op = data.draw(st.sampled_from(["delete", "duplicate", "swap", "truncate", "change"]))
    if op == "delete":
        del lines[k]
    elif op == "duplicate":
        lines.insert(k, lines[k])
    elif op == "swap":
        j = data.draw(st.integers(0, len(lines) - 1))
        lines[k], lines[j] = lines[j], lines[k]
    elif op == "truncate":
        lines = lines[:k]
    elif lines[k]:
        j = data.draw(st.integers(0, len(lines[k]) - 1))
        lines[k] = lines[k][:j] + data.draw(st.sampled_from(list("x9|@+-: \"'"))) + lines[k][j + 1:]
    p = tmp_path_factory.mktemp("dbc") / "damaged.dbc"
    p.write_text("\n".join(lines))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ct.load_dbc(p)
        except DbcError as err:
            m = re.match(rf"{re.escape(str(p))}:(\d+): \S", str(err))
            assert m, str(err)
            assert 1 <= int(m.group(1)) <= max(1, len(lines)), str(err)  # (empty: line 1)
