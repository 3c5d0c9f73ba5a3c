"""The fringescan command: one entry point, plugin verbs from train, one-line errors and exit codes."""

import os
import subprocess
import sys

from scanner import __version__
from scanner.cli import build_parser, main


def test_version_and_help_run_as_a_real_process():
    result = subprocess.run(
        [sys.executable, "-m", "scanner.cli", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and __version__ in result.stdout
    result = subprocess.run([sys.executable, "-m", "scanner.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "COMMAND" in result.stdout


def test_no_verb_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: fringescan" in capsys.readouterr().out


def test_every_verb_has_a_handler():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    for name, sub in subparsers.choices.items():
        assert sub.get_default("func") is not None, f"verb {name} has no handler"


def test_a_bad_read_cache_setting_is_one_clear_line(tmp_path):
    env = {**os.environ, "FRINGESCAN_READ_CACHE_MIB": "lots"}
    result = subprocess.run(
        [sys.executable, "-m", "scanner.cli", "scan", "--store", str(tmp_path), "--model", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "FRINGESCAN_READ_CACHE_MIB" in lines[0] and "'lots'" in lines[0]
