"""Inbox discovery by content hash, naming conventions, pass keys and quarantine."""

from __future__ import annotations

import json
import os
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.io.readers import sha256_file
from scanner.pipeline.inbox import (
    PassKey,
    cached_sha256,
    discover,
    pass_key,
    pick_latest,
    quarantine,
    quarantined,
)


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_sidecars_belong_to_their_pass(tmp_path):
    _write(tmp_path / "a.phase.tif", b"phase a")
    _write(tmp_path / "a.coh.tif", b"coh a")
    _write(tmp_path / "a.dem.tif", b"dem a")
    _write(tmp_path / "b.phase.tif", b"phase b")
    _write(tmp_path / "notes.txt", b"ignored")
    _write(tmp_path / "c.phase.tif.part", b"half copied")
    found = discover(tmp_path)
    assert [p.name for p in found.passes] == ["a", "b"]
    a, b = found.passes
    assert a.coherence.name == "a.coh.tif" and a.dem.name == "a.dem.tif"
    assert b.coherence is None and b.dem is None
    assert a.sha256 == sha256_file(tmp_path / "a.phase.tif") != b.sha256


def test_other_tifs_are_passes_named_by_stem(tmp_path):
    _write(tmp_path / "cropA_20180106-20180130_unw.tif", b"x")
    found = discover(tmp_path)
    assert [p.name for p in found.passes] == ["cropA_20180106-20180130_unw"]


def test_a_manifest_names_shared_files(tmp_path):
    _write(tmp_path / "x.tif", b"phase x")
    _write(tmp_path / "x_cc.tif", b"coh x")
    _write(tmp_path / "area1.dem.tif", b"dem")
    (tmp_path / "p1.pass.json").write_text(
        json.dumps({"phase": "x.tif", "coherence": "x_cc.tif", "dem": "area1.dem.tif", "scene_id": "S1"})
    )
    found = discover(tmp_path)
    (only,) = found.passes
    assert (only.name, only.scene_id, only.dem.name, only.coherence.name) == (
        "p1",
        "S1",
        "area1.dem.tif",
        "x_cc.tif",
    )
    assert not found.bad


def test_a_broken_manifest_is_a_bad_delivery(tmp_path):
    (tmp_path / "p.pass.json").write_text("{not json")
    (tmp_path / "q.pass.json").write_text(json.dumps({"phase": "missing.tif"}))
    found = discover(tmp_path)
    assert not found.passes
    reasons = {b.name: b.reason for b in found.bad}
    assert "expected a JSON object" in reasons["p"] and "missing.tif" in reasons["q"]


@settings(max_examples=25, deadline=None)
@given(
    content=st.binary(min_size=1, max_size=200),
    names=st.lists(
        st.text(string.ascii_lowercase, min_size=1, max_size=8), min_size=2, max_size=4, unique=True
    ),
)
def test_a_renamed_file_has_the_same_identity(tmp_path_factory, content, names):
    inbox = tmp_path_factory.mktemp("inbox")
    path = _write(inbox / f"{names[0]}.phase.tif", content)
    first = discover(inbox).passes[0].sha256
    for name in names[1:]:
        path = path.rename(inbox / f"{name}.phase.tif")
        assert discover(inbox).passes[0].sha256 == first


def test_hash_cache_is_reused_and_refreshed(tmp_path):
    path = _write(tmp_path / "a.tif", b"one")
    cache: dict = {}
    first = cached_sha256(path, cache)
    cache[str(path)]["sha256"] = "cached"
    assert cached_sha256(path, cache) == "cached"
    _write(path, b"two!")
    os.utime(path, ns=(1, 2))
    assert cached_sha256(path, cache) == sha256_file(path) != first


def test_pass_key_uses_dates_and_track():
    meta = {"first_date": "2020-01-01", "second_date": "2020-02-01", "orbit": 12, "frame": 300}
    assert pass_key(meta) == PassKey("2020-01-01", "2020-02-01", "orbit=12/frame=300")
    assert pass_key({**meta, "first_date": None}) is None
    grid = {"epsg": 32654, "transform": [28.0, 0, 500_123.0, 0, -28.0, 4_000_456.0], "width": 9, "height": 9}
    no_track = pass_key({"first_date": "a", "second_date": "b", "grid": grid})
    assert no_track.track == "footprint=32654:500000:4000000:9x9"


def test_pick_latest_prefers_the_newest_delivery(tmp_path):
    old = _write(tmp_path / "a.phase.tif", b"old")
    new = _write(tmp_path / "b.phase.tif", b"new")
    os.utime(old, ns=(10**18, 10**18))
    os.utime(new, ns=(2 * 10**18, 2 * 10**18))
    passes = discover(tmp_path).passes
    assert pick_latest(passes).name == "b"


def test_quarantine_moves_files_with_a_reason(tmp_path):
    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    store.mkdir()
    _write(inbox / "bad.phase.tif", b"garbage")
    _write(inbox / "bad.coh.tif", b"coh")
    _write(inbox / "good.phase.tif", b"fine")
    bad, good = sorted(discover(inbox).passes, key=lambda p: p.name)
    folder = quarantine(store, bad, "not a GeoTIFF", error="InputError", others=[good])
    assert sorted(p.name for p in folder.iterdir()) == ["bad.coh.tif", "bad.phase.tif", "reason.json"]
    assert (folder / "bad.phase.tif").read_bytes() == b"garbage"
    assert sorted(p.name for p in inbox.iterdir()) == ["good.phase.tif"]
    (record,) = quarantined(store)
    assert record["reason"] == "not a GeoTIFF" and record["sha256"] == bad.sha256
    assert not [p for p in (store / "quarantine").iterdir() if p.name.startswith(".")]


def test_quarantine_keeps_files_shared_with_other_passes(tmp_path):
    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    _write(inbox / "x.tif", b"x")
    _write(inbox / "y.tif", b"y")
    _write(inbox / "area.dem.tif", b"dem")
    for name, phase in (("px", "x.tif"), ("py", "y.tif")):
        (inbox / f"{name}.pass.json").write_text(json.dumps({"phase": phase, "dem": "area.dem.tif"}))
    px, py = discover(inbox).passes
    quarantine(store, px, "bad", others=[px, py])
    assert sorted(p.name for p in inbox.iterdir()) == ["area.dem.tif", "py.pass.json", "y.tif"]


def test_quarantine_finishes_after_a_crash_between_rename_and_delete(tmp_path):
    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    _write(inbox / "bad.phase.tif", b"garbage")
    (bad,) = discover(inbox).passes
    folder = quarantine(store, bad, "corrupt")
    _write(inbox / "bad.phase.tif", b"garbage")  # as if the delete had not happened
    assert quarantine(store, bad, "corrupt") == folder
    assert not list(inbox.iterdir())
    assert len(quarantined(store)) == 1


def _escaping_inbox(tmp_path):
    """An inbox beside a victim folder and a folder of shared DEMs, and the victim's file and its bytes."""
    inbox, store, victim, aux = (tmp_path / n for n in ("inbox", "store", "victim", "aux"))
    for folder in (inbox, store, victim, aux):
        folder.mkdir()
    target = _write(victim / "x.phase.tif", b"someone else's pass")
    _write(aux / "area.dem.tif", b"shared dem")
    return inbox, store, victim, aux, target


@pytest.mark.parametrize("kind", ["relative", "absolute"])
def test_a_manifest_naming_a_file_outside_the_inbox_quarantines_only_itself(tmp_path, kind):
    inbox, store, victim, aux, target = _escaping_inbox(tmp_path)
    name = "../victim/x.phase.tif" if kind == "relative" else str(target)
    (inbox / "p.pass.json").write_text(json.dumps({"phase": name}))
    found = discover(inbox, aux_dir=aux)
    (bad,) = found.bad
    assert not found.passes and "escapes" in bad.reason and name in bad.reason and "phase" in bad.reason
    folder = quarantine(store, bad, bad.reason)
    assert sorted(p.name for p in folder.iterdir()) == ["p.pass.json", "reason.json"]
    assert target.read_bytes() == b"someone else's pass" and [p.name for p in victim.iterdir()] == [
        "x.phase.tif"
    ]


def test_an_inbox_symlink_pointing_out_moves_as_a_link_only(tmp_path):
    inbox, store, victim, aux, target = _escaping_inbox(tmp_path)
    (inbox / "y.phase.tif").symlink_to(target)
    (bad,) = discover(inbox).bad
    assert "inbox entry y.phase.tif" in bad.reason and str(target) in bad.reason
    folder = quarantine(store, bad, bad.reason)
    assert (folder / "y.phase.tif").is_symlink() and not list(inbox.iterdir())
    assert target.read_bytes() == b"someone else's pass"


def test_shared_files_of_the_aux_dir_are_used_and_never_moved(tmp_path):
    inbox, store, victim, aux, target = _escaping_inbox(tmp_path)
    _write(inbox / "a.tif", b"phase a")
    (inbox / "a.pass.json").write_text(json.dumps({"phase": "a.tif", "dem": str(aux / "area.dem.tif")}))
    (only,) = discover(inbox, aux_dir=aux).passes
    assert only.dem == aux / "area.dem.tif"
    (bad,) = discover(inbox).bad  # without --aux-dir the DEM escapes
    assert "area.dem.tif" in bad.reason
    folder = quarantine(store, only, "corrupt")
    assert sorted(p.name for p in folder.iterdir()) == ["a.pass.json", "a.tif", "reason.json"]
    assert (aux / "area.dem.tif").read_bytes() == b"shared dem"
    assert json.loads((folder / "reason.json").read_text())["kept"] == [str(aux / "area.dem.tif")]
