"""`ltv` ends every failure with one line naming what is wrong, never a traceback."""

from __future__ import annotations

import signal

from ltv.cli import main as cli_main


def test_a_bad_argument_value_is_one_line_and_status_1(tmp_path, capsys):
    assert cli_main(["generate", "--users", "0", "--out", str(tmp_path / "shop")]) == 1
    assert capsys.readouterr().err == "ltv generate: n_users must be at least 1\n"


def test_a_file_system_error_is_one_line_naming_the_path(tmp_path, capsys):
    regular_file = tmp_path / "a_file"
    regular_file.write_text("not a folder")
    assert cli_main(["generate", "--users", "5", "--out", str(regular_file / "shop")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("ltv generate: Not a directory: ") and str(regular_file) in error
    assert error.count("\n") == 1


def test_the_sigterm_handler_is_only_installed_while_a_command_runs(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    cli_main(["generate", "--users", "0", "--out", str(tmp_path / "shop")])
    assert signal.getsignal(signal.SIGTERM) is before
