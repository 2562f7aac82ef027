"""The command-line convention (README, "Command-line convention"): every parser keeps it, the
checker catches a command that breaks it, old spellings still work with one notice, a folder of
runs stands for its newest run, and a command that makes a run prints its path last."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ganforge import commandline as cl
from ganforge.cli import build_parser
from ganforge.run import resolve_run
from tests.cli_helpers import TINY_DIGITS, run_cli


def test_every_command_keeps_the_convention():
    assert cl.violations(build_parser()) == []


def test_the_walk_sees_every_command():
    progs = {prog for prog, _ in cl.walk(build_parser())}
    for command in ("train", "sample", "eval", "info", "augment", "upscale", "eval-sr"):
        assert f"ganforge {command}" in progs
    for verb in ("anomaly fit", "anomaly score", "tabular fit", "tabular sample", "data get"):
        assert f"ganforge {verb}" in progs


def _planted(add) -> list[str]:
    """The checker's findings on a one-command parser built by `add(parser)`."""
    parser = cl.Parser(prog="demo")
    add(parser.add_subparsers(dest="command").add_parser("make"))
    return cl.violations(parser)


PLANTED = {
    "no-help": (lambda p: p.add_argument("--width", type=int), "one-line help"),
    "no-default": (lambda p: p.add_argument("--width", help="the width"), "states the default"),
    "two-line-help": (lambda p: p.add_argument("--w", help="a\nb (default 1)"), "one line"),
    "json-switch": (
        lambda p: p.add_argument("--json", action="store_true", help="JSON (default: off)"),
        "--json takes a PATH",
    ),
    "seed-random": (
        lambda p: p.add_argument("--seed", type=int, help="seed (default: random)"),
        "defaulting to 0",
    ),
    "count-as---n": (
        lambda p: p.add_argument("--n", type=int, default=5, help="how many (default 5)"),
        "-n/--num",
    ),
    "-o-alone": (lambda p: p.add_argument("-o", help="file (default: a.png)"), "short for"),
    "out-as-a-file": (
        lambda p: p.add_argument("--out", metavar="CSV", help="scores (default: s.csv)"),
        "PARENT",
    ),
    "out-without-name": (
        lambda p: p.add_argument("--out", metavar="PARENT", help="parent (default: runs)"),
        "takes --out, --name, --run-dir",
    ),
    "quiet-silent": (
        lambda p: p.add_argument("--quiet", action="store_true", help="no output (default: off)"),
        "--quiet is a switch meaning",
    ),
    "resume-yes-no": (
        lambda p: p.add_argument("--resume", action="store_true", help="resume (default: off)"),
        "--resume [RUN]",
    ),
    "deprecated-shown": (
        lambda p: p.add_argument(
            "--old", dest="new", action=cl.DeprecatedFlag, new="--new", help="old (default 1)"
        ),
        "hidden from --help",
    ),
}


@pytest.mark.parametrize("case", PLANTED)
def test_the_checker_catches_a_planted_violation(case):
    add, rule = PLANTED[case]
    found = _planted(add)
    assert found and all(line.startswith("demo make ") for line in found), found
    assert any(rule in line for line in found), found


def test_the_checker_passes_the_convention_helpers():
    def add(p):
        cl.add_run_flags(p, "run", "<time>")
        cl.add_seed(p)
        cl.add_quiet(p)
        cl.add_resume(p)
        cl.add_json(p)
        cl.add_device(p)
        p.add_argument("-n", "--num", dest="n", type=int, default=4, help="count (default 4)")
        p.add_argument("-o", "--output", required=True, help="the file")
        cl.deprecated(p, "--dir", dest="output", new="-o/--output")

    assert _planted(add) == []


# old spelling -> new spelling: the same parsed value, and one notice on stderr
DEPRECATED = {
    "augment --out": (["augment", "RUN", "--out", "D"], ["augment", "RUN", "-o", "D"], "output"),
    "anomaly fit -o": (
        ["anomaly", "fit", "--data", "digits", "-o", "R"],
        ["anomaly", "fit", "--data", "digits", "--run-dir", "R"],
        "run_dir",
    ),
    "anomaly score --out": (
        ["anomaly", "score", "RUN", "IN", "--out", "s.csv"],
        ["anomaly", "score", "RUN", "IN", "-o", "s.csv"],
        "output",
    ),
    "eval --n": (["eval", "RUN", "--n", "7"], ["eval", "RUN", "-n", "7"], "n"),
    "eval-sr --comparison": (
        ["eval-sr", "RUN", "--comparison", "c.png"],
        ["eval-sr", "RUN", "-o", "c.png"],
        "comparison",
    ),
    "data get --dir": (["data", "get", "mnist", "--dir", "D"], ["data", "get", "mnist", "-o", "D"], "dir"),
}  # fmt: skip


@pytest.mark.parametrize("case", DEPRECATED)
def test_an_old_spelling_still_works_with_one_notice(case, capsys):
    old, new, dest = DEPRECATED[case]
    parsed_old = build_parser().parse_args(old)
    err = capsys.readouterr().err.strip().splitlines()
    parsed_new = build_parser().parse_args(new)
    assert getattr(parsed_old, dest) == getattr(parsed_new, dest) is not None
    assert len(err) == 1 and "deprecated" in err[0] and old[-2] in err[0], err
    assert capsys.readouterr().err == ""  # the new spelling says nothing


def test_info_json_switch_is_the_old_spelling_of_json_stdout(tmp_path, capsys):
    run = _fake_run(tmp_path / "runs" / "a", 0)
    args = build_parser().parse_args(["info", str(run), "--json"])
    assert args.json == "--json"  # cmd_info turns it into `--json -` with a notice
    assert build_parser().parse_args(["info", str(run), "--json", "-"]).json == "-"


def _fake_run(run: Path, age: float) -> Path:
    """A folder that looks like a run (checkpoints/last.pt), its checkpoint `age` seconds old."""
    (run / "checkpoints").mkdir(parents=True)
    ckpt = run / "checkpoints" / "last.pt"
    ckpt.write_bytes(b"")
    stamp = 1_700_000_000 - age
    os.utime(ckpt, (stamp, stamp))
    return run


def test_a_folder_of_runs_stands_for_its_newest(tmp_path, capsys):
    old = _fake_run(tmp_path / "runs" / "zz-old", 100)
    new = _fake_run(tmp_path / "runs" / "aa-new", 10)
    (tmp_path / "runs" / "notes").mkdir()  # not a run: ignored
    assert resolve_run(tmp_path / "runs") == str(new)
    err = capsys.readouterr().err
    assert str(new) in err and "newest of 2 runs" in err
    assert resolve_run(old) == str(old)  # a run is itself, silently
    assert resolve_run(tmp_path / "nothing") == str(tmp_path / "nothing")  # the command says
    (tmp_path / "plain").mkdir()
    assert resolve_run(tmp_path / "plain") == str(tmp_path / "plain")
    assert capsys.readouterr().err == ""


def test_runs_in_sub_folders_count_too(tmp_path, capsys):
    """`ganforge sample runs/` after `train --out runs/mnist`: the newest run two levels down;
    a run's own sub-folders (a run saved inside another) are not searched."""
    _fake_run(tmp_path / "runs" / "mnist" / "a", 50)
    newest = _fake_run(tmp_path / "runs" / "digits" / "b", 5)
    inner = _fake_run(tmp_path / "runs" / "mnist" / "a" / "inner", 1)
    assert resolve_run(tmp_path / "runs") == str(newest)
    assert "newest of 2 runs" in capsys.readouterr().err
    assert inner.is_dir()
    _fake_run(tmp_path / "deep" / "1" / "2" / "3" / "run", 1)  # four levels down: not found
    assert resolve_run(tmp_path / "deep") == str(tmp_path / "deep")


def test_sample_after_train_out_parent_works(tmp_path, capsys):
    """`ganforge train --out runs/mnist` then `ganforge sample runs/mnist` (it failed before)."""
    parent = tmp_path / "runs" / "digits"
    code, out, err = run_cli(capsys, "train", *TINY_DIGITS, "--out", parent)
    assert code == 0, err
    made = Path(out.strip().splitlines()[-1])  # the path it made, last, on its own line
    assert made.parent == parent and (made / "checkpoints" / "last.pt").is_file()
    code, out, err = run_cli(capsys, "sample", parent, "-n", 4, "-o", tmp_path / "g.png")
    assert code == 0, err
    assert f"using run {made}" in err and (tmp_path / "g.png").is_file()


def test_anomaly_fit_out_name_makes_parent_name_and_prints_it(tmp_path, capsys):
    import numpy as np

    rows = np.random.default_rng(0).normal(size=(120, 3))
    data = tmp_path / "n.csv"
    data.write_text("a,b,c\n" + "\n".join(",".join(f"{v:.4f}" for v in r) for r in rows))
    code, out, err = run_cli(
        capsys, "anomaly", "fit", "--data", f"csv:{data}", "--out", tmp_path / "runs",
        "--name", "det", "--steps", 2, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert out.strip().splitlines()[-1] == str(tmp_path / "runs" / "det")
    assert (tmp_path / "runs" / "det" / "detector.pt").is_file()
    assert "deprecated" not in err


def test_parser_error_is_still_one_line(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sample"])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ganforge: error: ")


def test_help_of_a_deprecated_spelling_is_hidden(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["augment", "--help"])
    out = capsys.readouterr().out
    assert "--output" in out and "--out " not in out and "--out\n" not in out


def test_train_run_dir_is_exact_and_bare_resume_continues_it(tmp_path, capsys):
    run = tmp_path / "exact" / "here"
    code, out, err = run_cli(capsys, "train", *TINY_DIGITS, "--run-dir", run)
    assert code == 0, err
    assert out.strip().splitlines()[-1] == str(run)
    code, out, err = run_cli(
        capsys, "train", *TINY_DIGITS, "--run-dir", run, "--resume", "--steps", 6
    )
    assert code == 0, err
    assert "(now 6)" in out and out.strip().splitlines()[-1] == str(run)
    code, out, err = run_cli(
        capsys, "train", "--resume", tmp_path / "exact", "--steps", 8, "--quiet"
    )
    assert code == 0, err  # --resume PARENT: the newest run in it
    assert f"using run {run}" in err and "(now 8)" in out
    code, _, err = run_cli(capsys, "train", *TINY_DIGITS, "--run-dir", run, "--name", "x")
    assert code == 2 and err.count("\n") == 1 and "--run-dir names the run directory" in err


def test_run_location_is_the_one_naming_rule(tmp_path, capsys):
    from ganforge.errors import GanforgeError
    from ganforge.run import run_location

    assert run_location() == (None, False)
    assert run_location("p", "n") == (str(Path("p") / "n"), False)
    assert run_location(None, "n") == (str(Path("runs") / "n"), False)
    assert run_location("p", None, default_name="d") == (str(Path("p") / "d"), False)
    assert run_location(run_dir="x/y", resume="") == ("x/y", True)
    run = _fake_run(tmp_path / "runs" / "a", 0)
    assert run_location(resume=str(tmp_path / "runs")) == (str(run), True)
    for bad in (
        dict(out="p"),
        dict(run_dir="x", name="n"),
        dict(resume="r", out="p"),
        dict(resume=""),
    ):
        with pytest.raises(GanforgeError):
            run_location(**bad)


def test_commands_other_than_train_parse_without_torch():
    """`ganforge presets` / `--help` answer at once: only the train flags need torch (they come
    from the family settings); the full parser still has them."""
    import subprocess
    import sys

    code = (
        "import sys; from ganforge.cli import main\n"
        "main(['presets'])\n"
        "print('TORCH', 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "TORCH False" in out.stdout, out.stdout + out.stderr
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    assert any("--lr-g" in a.option_strings for a in train._actions)
