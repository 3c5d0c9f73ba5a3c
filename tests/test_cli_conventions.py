"""One convention per flag across every verb (core and plugin): help text, --json, -v/-q, output defaults;
nightly and detect detect alike; progress knows its total before the first unit is done."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from scan_helpers import make_checkpoint, make_store
from test_nightly import GRID, write_pass

from scanner.cli import build_parser, main
from scanner.core.detect import DetectConfig, OperatingPoint
from scanner.io.checkpoint import load_checkpoint, save_checkpoint
from scanner.io.store import Store
from scanner.pipeline.nightly import EXIT_DONE
from scanner.pipeline.scan import ScanConfig, scan
from scanner.pipeline.sites import scene_sites

PLUGIN_VERBS = {"dataset", "train", "evaluate", "mine", "crossval"}


def _verbs() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser], dict[str, str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    return parser, dict(sub.choices), helps


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a for a in parser._actions if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
    ]


def test_the_walk_sees_core_and_plugin_verbs() -> None:
    _, verbs, _ = _verbs()
    assert set(verbs) >= PLUGIN_VERBS | {"scan", "detect", "nightly", "evaluate-scan", "status"}


def test_every_verb_and_every_option_has_help() -> None:
    top, verbs, helps = _verbs()
    missing = [f"verb {name}" for name in verbs if not (helps.get(name) or "").strip()]
    for name, parser in {"fringescan": top, **verbs}.items():
        missing += [
            f"{name} {'/'.join(a.option_strings) or a.dest}"
            for a in _options(parser)
            if a.help != argparse.SUPPRESS and not (a.help or "").strip()
        ]
    assert not missing, f"no help text: {missing}"


def test_rendered_help_has_no_doubled_percent() -> None:
    top, verbs, _ = _verbs()
    bad = [name for name, p in {"fringescan": top, **verbs}.items() if "%%" in p.format_help()]
    assert not bad, f"'%%' in the help of {bad}"


def test_json_is_a_stdout_switch_everywhere() -> None:
    _, verbs, _ = _verbs()
    with_json = {
        name: action
        for name, parser in verbs.items()
        for action in _options(parser)
        if "--json" in action.option_strings
    }
    assert {"status", "nightly", "evaluate-scan", "dataset"} <= set(with_json)
    wrong = [name for name, action in with_json.items() if not isinstance(action, argparse._StoreTrueAction)]
    assert not wrong, f"--json takes a value (a file?) in {wrong}; files are --out"


def test_no_verb_requires_out() -> None:
    _, verbs, _ = _verbs()
    required = [
        name
        for name, parser in verbs.items()
        for action in _options(parser)
        if "--out" in action.option_strings and action.required
    ]
    assert not required, f"--out is required in {required}; give it a default"


def test_verbose_and_quiet_are_accepted_after_every_verb() -> None:
    top, verbs, _ = _verbs()
    for name, parser in {"fringescan": top, **verbs}.items():
        flags = {s for a in _options(parser) for s in a.option_strings}
        assert {"-v", "--verbose", "-q", "--quiet", "--log-json"} <= flags, name


def test_verbose_and_quiet_set_the_log_level_before_or_after_the_verb(tmp_path: Path, capsys) -> None:
    from scanner.cli import output

    root = str(Store.create(tmp_path / "store").root)
    for argv, level in (
        (["status", "--store", root], logging.INFO),
        (["status", "--store", root, "-q"], logging.WARNING),
        (["-q", "status", "--store", root], logging.WARNING),
        (["status", "-v", "--store", root], logging.DEBUG),
        (["-v", "status", "--store", root], logging.DEBUG),
    ):
        assert main(argv) == 0, argv
        assert logging.getLogger().level == level, argv
        assert output._quiet == (level == logging.WARNING)
    capsys.readouterr()
    assert main(["-v", "status", "--store", root, "-q"]) == 2
    assert "-q/--quiet with -v/--verbose" in capsys.readouterr().err


def test_the_old_scan_workers_flag_points_to_threads(tmp_path: Path, capsys) -> None:
    assert main(["scan", "--store", str(tmp_path), "--model", str(tmp_path), "--workers", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fringescan: error:") and "use --threads 3" in err and "\n" not in err


_BARS = (
    "import sys; from scanner.cli.output import setup_logging, bars_enabled; "
    "setup_logging(int(sys.argv[1])); print(bars_enabled(), file=sys.stderr)"
)


def _bars(verbosity: int, *, stdout_tty: bool) -> str:
    """Whether a real process whose stderr is a terminal would draw progress bars."""
    main_fd, child_fd = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-c", _BARS, str(verbosity)],
            stdout=child_fd if stdout_tty else subprocess.PIPE,
            stderr=child_fd,
            env={**os.environ, "TERM": "xterm"},
            timeout=60,
            check=True,
        )
        os.close(child_fd)
        child_fd = -1
        text = b""
        while True:
            try:
                chunk = os.read(main_fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            text += chunk
    finally:
        os.close(main_fd)
        if child_fd >= 0:
            os.close(child_fd)
    assert result.returncode == 0
    return text.decode().strip()


def test_bars_only_at_a_terminal_and_not_with_quiet() -> None:
    assert _bars(0, stdout_tty=True) == "True"
    assert _bars(-1, stdout_tty=True) == "False"  # -q
    assert _bars(0, stdout_tty=False) == "False"  # stdout redirected or piped


def test_scan_reports_its_window_count_before_the_first_tile(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store", {"s1": (300, 300)})
    calls: list[tuple[int, int]] = []
    results = scan(
        store,
        make_checkpoint(tmp_path / "ckpt"),
        config=ScanConfig(tile_cells=20),
        progress=lambda done, total: calls.append((done, total)),
    )
    windows = sum(r.windows for r in results)
    assert calls[0] == (0, windows) and calls[-1] == (windows, windows)
    assert all(total == windows for _, total in calls)


def test_nightly_and_detect_find_the_same_sites(tmp_path: Path, capsys) -> None:
    """Both detect at the model's operating point by one path; 0.5 and one cell would find other sites."""
    model, meta = load_checkpoint(make_checkpoint(tmp_path / "random"))
    point = OperatingPoint(threshold=0.51, min_cells=3)
    save_checkpoint(tmp_path / "ckpt", model, dataclasses.replace(meta, operating_point=point))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("p1", "p2"):
        write_pass(inbox, name)
    store = tmp_path / "store"
    argv = ["--store", str(store)]
    nightly = [
        "nightly",
        "--inbox",
        str(inbox),
        *argv,
        "--model",
        str(tmp_path / "ckpt"),
        "--grid",
        str(GRID),
    ]
    assert main([*nightly, "-q"]) == EXIT_DONE

    def layers() -> dict[str, dict]:
        return {p.stem: json.loads(p.read_text()) for p in sorted((store / "sites").glob("*.geojson"))}

    by_nightly = layers()
    assert set(by_nightly) == {"p1", "p2"}
    assert sum(len(layer["features"]) for layer in by_nightly.values()) > 0
    cell_area = 28.0 * 28.0 * 100
    for layer in by_nightly.values():
        assert layer["fringescan"]["threshold"] == 0.51
        assert layer["fringescan"]["min_area_m2"] == pytest.approx(2.5 * cell_area)
    old_way = {sid: scene_sites(Store.open(store), sid, DetectConfig(threshold=0.5))[0] for sid in by_nightly}
    assert [f["properties"]["site_id"] for fs in old_way.values() for f in fs] != [
        f["properties"]["site_id"] for layer in by_nightly.values() for f in layer["features"]
    ], "the store should tell the operating point from 0.5 and one cell"

    assert main(["detect", *argv]) == 0
    assert "model's operating point" in capsys.readouterr().out
    assert layers() == by_nightly


def test_a_gdal_message_that_is_not_utf8_is_one_warning_line(tmp_path: Path) -> None:
    """A GeoTIFF whose GDAL_METADATA holds a byte that is not UTF-8 (found by the fuzzed readers): rasterio's
    GDAL log handler cannot decode GDAL's message about it. ``fringescan ingest`` says so in one warning line
    instead of Python's "Exception ignored in: 'rasterio._env.log_error'" traceback, and the ingest's own
    outcome stands."""
    from test_fuzz_readers import valid_geotiff

    data = bytearray(valid_geotiff())
    data[data.index(b"<GDALMetadata>") + 20] = 0xAB
    phase = tmp_path / "20200101-20200201.tif"
    phase.write_bytes(bytes(data))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scanner.cli",
            "ingest",
            str(phase),
            "--store",
            str(tmp_path / "s"),
            "--id",
            "x",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Exception ignored" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "was not UTF-8" in result.stderr, result.stderr
    if result.returncode != 0:  # a refusal is one line, as for any bad input
        assert len([line for line in result.stderr.splitlines() if "error" in line]) == 1, result.stderr


def test_the_gdal_message_hook_is_installed_once_per_process(monkeypatch) -> None:
    """``fringescan`` called many times in one process (the tools run verb after verb) wraps the unraisable
    hook once, not once per call."""
    from scanner.cli.output import route_undecodable_gdal_messages

    def original(unraisable) -> None:
        pass

    monkeypatch.setattr(sys, "unraisablehook", original)
    route_undecodable_gdal_messages()
    installed = sys.unraisablehook
    route_undecodable_gdal_messages()
    assert installed is not original and sys.unraisablehook is installed
