"""``attnkit viz --out``: a second export into the same folder leaves no stale map of the first,
a folder holding anything else is refused, and a skipped rollout says why."""

from __future__ import annotations

from attnkit.cli.main import main


def test_a_second_export_replaces_the_first_and_says_why_rollout_is_missing(
    tiny_checkpoints, tmp_path, capsys
):
    out = tmp_path / "v"
    ck = str(tiny_checkpoints["translation"])
    assert main(["viz", "--ckpt", ck, "--text", "beta eta", "--out", str(out)]) == 0
    before = {p.relative_to(out).as_posix() for p in out.rglob("*.png")}
    assert "rollout.png" in before and any(p.startswith("heads/") for p in before)
    capsys.readouterr()
    assert (
        main(["viz", "--ckpt", ck, "--text", "beta", "--layers", "1", "--no-per-head", "--out", str(out)])
        == 0
    )
    after = {p.relative_to(out).as_posix() for p in out.rglob("*.png")}
    assert "rollout.png" not in after and not any(p.startswith("heads/") for p in after)
    assert (
        "attnkit: no rollout.png: rollout needs every layer 0..1 of the encoder; captured [1]"
        in capsys.readouterr().err
    )


def test_a_folder_with_other_files_is_refused(tiny_checkpoints, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert (
        main(["viz", "--ckpt", str(tiny_checkpoints["lm"]), "--text", "To be", "--out", str(tmp_path)]) == 2
    )
    assert capsys.readouterr().err == (
        f"attnkit: error: --out {tmp_path} holds files attnkit viz did not write (notes.txt, …); "
        "choose a new or empty folder\n"
    )
    assert (tmp_path / "notes.txt").read_text() == "mine"
