"""`ltv` ends every failure with one line naming what is wrong, never a traceback."""

from __future__ import annotations

import signal

import pytest

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


# --------------------------------------------------------------------------------------------------
# Every option checked before anything runs, in one line naming the option; --help explains each


def one_line_usage_error(argv: list[str], capsys) -> str:
    """The stderr of a command line argparse refuses: status 2 and exactly one line, no usage block."""
    with pytest.raises(SystemExit) as exit_info:
        cli_main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "usage:" not in error and "Traceback" not in error
    return error.rstrip("\n")


@pytest.mark.parametrize(("argv", "expected"), [
    (["generate", "--users", "abc", "--out", "x"], "ltv generate: argument --users: must be a whole number, got 'abc'"),
    (["generate", "--users", "5", "--items", "-3", "--out", "x"], "ltv generate: argument --items: must be at least 14, got -3"),
    (["generate", "--users", "5", "--items", "0", "--out", "x"], "ltv generate: argument --items: must be at least 14, got 0"),
    (["generate", "--users", "5", "--chunk-users", "0", "--out", "x"],
     "ltv generate: argument --chunk-users: must be at least 1, got 0"),
    (["generate", "--users", "5", "--seed", "-1", "--out", "x"], "ltv generate: argument --seed: must be at least 0, got -1"),
    (["generate", "--users", "5", "--seed", "4294967296", "--out", "x"],
     "ltv generate: argument --seed: must be at most 4,294,967,295, got 4,294,967,296"),
    (["generate", "--users", "5", "--out", ""], "ltv generate: argument --out: must be a path, got an empty string"),
    (["generate", "--users", "5", "--out", "x", "--format", "xlsx"],
     "ltv generate: argument --format: invalid choice: 'xlsx' (choose from 'parquet', 'csv')"),
    (["bench", "--scale", "huge"], "ltv bench: argument --scale: invalid choice: 'huge' (choose from 'demo', 'medium', 'large')"),
    (["bench", "--incremental-runs", "0"], "ltv bench: argument --incremental-runs: must be at least 1, got 0"),
    (["bench", "--seed", "-2"], "ltv bench: argument --seed: must be at least 0, got -2"),
    (["publish", "--raw-dir", "/no/such/folder"], "ltv publish: argument --raw-dir: /no/such/folder does not exist"),
    (["publish", "--vars", "{ltv_horizon_days: 90"], "ltv publish: argument --vars: is not YAML (while parsing a flow mapping): "
                                                    "{ltv_horizon_days: 90"),
    (["publish", "--vars", "ltv_horizon_days"],
     "ltv publish: argument --vars: must be a YAML mapping such as '{ltv_horizon_days: 90}', got 'ltv_horizon_days'"),
    (["publish", "--served", ""], "ltv publish: argument --served: must be a path, got an empty string"),
])
def test_a_bad_option_is_one_line_naming_it(argv, expected, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative --out, were it accepted, lands here
    command = argv[0]
    assert one_line_usage_error(argv, capsys) == f"{expected} (see ltv {command} --help)"
    assert list(tmp_path.iterdir()) == []


def test_a_raw_dir_given_as_a_file_is_refused(tmp_path, capsys):
    a_file = tmp_path / "users.csv"
    a_file.write_text("user_id\n")
    assert one_line_usage_error(["publish", "--raw-dir", str(a_file)], capsys) == \
        f"ltv publish: argument --raw-dir: {a_file} is not a folder (see ltv publish --help)"


def test_a_raw_dir_from_the_environment_that_is_no_folder_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LTV_RAW_DIR", str(tmp_path / "missing"))
    assert cli_main(["publish", "--no-docs", "--served", str(tmp_path / "served.duckdb")]) == 1
    assert capsys.readouterr().err == f"ltv publish: LTV_RAW_DIR={tmp_path / 'missing'} is not a folder\n"
    assert not (tmp_path / "served.duckdb").exists()


def test_negative_users_is_one_line_without_traceback(tmp_path, capsys):
    assert cli_main(["generate", "--users", "-5", "--out", str(tmp_path / "shop")]) == 1
    assert capsys.readouterr().err == "ltv generate: n_users must be at least 1\n"
    assert not (tmp_path / "shop").exists()


def test_format_and_shape_are_accepted_in_any_case(tmp_path):
    assert cli_main(["generate", "--users", "5", "--format", "CSV", "--out", str(tmp_path / "demo")]) == 0
    assert sorted(path.name for path in (tmp_path / "demo").glob("*.csv")) == [
        "events.csv", "items.csv", "order_items.csv", "orders.csv", "reviews.csv", "support_conversations.csv", "users.csv"]
    assert cli_main(["generate", "--shape", "Orders-Only", "--users", "5", "--format", "Parquet",
                     "--out", str(tmp_path / "shaped")]) == 0
    assert (tmp_path / "shaped" / "orders.parquet").exists() and not list((tmp_path / "shaped").glob("*.csv"))


def help_text(command: str, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli_main([command, "--help"])
    assert exit_info.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


@pytest.mark.parametrize("command", ["generate", "publish", "bench"])
def test_every_option_of_every_command_has_help(command, capsys):
    from ltv.cli import build_parser

    subparser = build_parser(command)._subparsers._group_actions[0].choices[command]
    undocumented = [action.option_strings for action in subparser._actions if not action.help]
    assert undocumented == []
    assert "usage: ltv " + command in help_text(command, capsys)


def test_bench_help_says_what_each_scale_means_in_users_and_items(capsys):
    text = help_text("bench", capsys)
    # The sizes the README's benchmark table reports (medium: the generator's default, users // 20 items).
    for scale in ("demo = 2,000 users, 500 items", "medium = 100,000 users, 5,000 items",
                  "large = 1,000,000 users, 50,000 items"):
        assert scale in text


def test_the_project_is_checked_before_a_benchmark_generates_anything(tmp_path, capsys):
    assert cli_main(["bench", "--project-dir", str(tmp_path), "--data-dir", str(tmp_path / "data")]) == 1
    assert capsys.readouterr().err == (f"ltv bench: no dbt_project.yml in {tmp_path}; "
                                       "run ltv inside the ltv project or pass --project-dir\n")
    assert not (tmp_path / "data").exists()
