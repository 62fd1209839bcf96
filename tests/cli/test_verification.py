"""Damaged, crafted and foreign files in a run directory; two writers; links; flags.

Each bad input is a one-line ``jit-env: error:`` naming the problem (exit
status 2), never a traceback and never a silent load; a damaged ``latest``
checkpoint falls back to ``previous`` with a warning and the run still equals
the uninterrupted one.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from flax import serialization

from jit_env.cli import _checkpoint, _files, _session


@pytest.fixture(scope="session")
def _half_run(tmp_path_factory, tiny):
    out = tmp_path_factory.mktemp("half") / "run"
    calls = []

    def stop(stage):
        calls.append(stage)
        if stage == "advance" and calls.count("advance") == 2:
            raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_session, "_loop_point", stop)
        assert tiny.train(out) == 130
    return out


@pytest.fixture
def half(_half_run, tmp_path):
    """A copy of the tiny run stopped after 2 of its 4 updates (latest 2, previous 1)."""
    out = tmp_path / "half"
    shutil.copytree(_half_run, out, symlinks=True)
    return out


def _payload(run, name="latest"):
    return serialization.msgpack_restore((run / "checkpoints" / f"{name}.msgpack").read_bytes())


def _write(run, payload, name="latest", rehash=True):
    if rehash:
        payload["sha256"] = _checkpoint._content_hash(payload["fingerprint"], payload["metadata"],
                                                      payload["leaves"])
    (run / "checkpoints" / f"{name}.msgpack").write_bytes(serialization.msgpack_serialize(payload))


def _config(run):
    return json.loads((run / "config.json").read_text())


def _set_config(run, **entries):
    payload = _config(run)
    for key, value in entries.items():
        if key in payload:
            payload[key] = value
        else:
            payload["config"][key] = value
    (run / "config.json").write_text(json.dumps(payload))


def _first_kernel(payload):
    """The index of the first two-dimensional leaf (the first bias, with the seed axis)."""
    return next(k for k, v in sorted(payload["leaves"].items(), key=lambda kv: int(kv[0]))
                if np.ndim(v) == 2)


# ------------------------------------------------------------- checkpoints --
def test_flipped_byte_in_latest_falls_back_to_previous(half, tiny, reference, capsys):
    path = half / "checkpoints" / "latest.msgpack"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # inside the last leaf's bytes
    path.write_bytes(bytes(data))
    assert tiny.resume(half) == 0
    err = capsys.readouterr().err
    assert "is damaged: its content hash does not match" in err
    assert "resuming from" in err
    assert "previous.msgpack (update 1)" in err
    tiny.assert_same_run(half, reference)


def test_missing_latest_falls_back_to_previous(half, tiny, reference, capsys):
    (half / "checkpoints" / "latest.msgpack").unlink()
    assert tiny.resume(half) == 0
    assert "latest.msgpack is missing; resuming from" in capsys.readouterr().err
    tiny.assert_same_run(half, reference)


def _both(run, edit, rehash=True):
    for name in ("latest", "previous"):
        payload = _payload(run, name)
        edit(payload)
        _write(run, payload, name, rehash)


@pytest.mark.parametrize(("case", "expected"), [
    ("flipped", "is damaged: its content hash does not match"),
    ("garbage", "is not a jit_env checkpoint"),
    ("no_hash", "has no content hash"),
    ("shape", "has shape (1, 9) and dtype float32, expected (1, 8) and float32"),
    ("dtype", "has shape (1, 8) and dtype float64, expected (1, 8) and float32"),
    ("missing_leaf", "is missing"),
    ("extra_leaf", "leaves more than the"),
    ("update_edited", "is damaged"),
    ("update_crafted", "is below the 99 updates already done"),
    ("update_string", "bad update count '2'"),
    ("algo", "was written by --algo 'dqn'"),
])
def test_bad_checkpoints_are_one_line_errors(case, expected, half, tiny, capsys):
    if case == "garbage":
        for name in ("latest", "previous"):
            (half / "checkpoints" / f"{name}.msgpack").write_bytes(b"\x93\x01garbage")
    elif case == "flipped":
        for name in ("latest", "previous"):
            path = half / "checkpoints" / f"{name}.msgpack"
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0x10
            path.write_bytes(bytes(data))
    elif case == "no_hash":
        _both(half, lambda p: p.pop("sha256"), rehash=False)
    else:
        def edit(p):
            k = _first_kernel(p)
            assert p["leaves"][k].shape == (1, 8)  # a bias: seed axis, hidden size
            if case == "shape":
                p["leaves"][k] = np.zeros((1, 9), np.float32)
            elif case == "dtype":
                p["leaves"][k] = p["leaves"][k].astype(np.float64)
            elif case == "missing_leaf":
                del p["leaves"][k]
            elif case == "extra_leaf":
                p["leaves"][str(len(p["leaves"]))] = np.zeros(3)
            elif case.startswith("update"):
                p["metadata"]["update"] = {"update_string": "2"}.get(case, 99)
            elif case == "algo":
                p["metadata"]["algo"] = "dqn"

        _both(half, edit, rehash=case != "update_edited")
    assert tiny.resume(half) == 2
    line = tiny.one_line_error(capsys)
    assert expected in line
    if case in ("shape", "dtype", "missing_leaf"):
        assert "leaf .agent_state" in line  # named by its path in the TrainState


def test_checkpoint_of_an_edited_config_is_refused(half, tiny, capsys):
    _set_config(half, learning_rate=1e-3)
    assert tiny.resume(half) == 2
    assert "different configuration than config.json's" in tiny.one_line_error(capsys)


def test_config_without_checkpoint_suggests_overwrite(half, tiny, reference, capsys):
    shutil.rmtree(half / "checkpoints")
    assert tiny.resume(half) == 2
    assert "has no checkpoint to resume from; start it again" in tiny.one_line_error(capsys)
    assert tiny.train(half, "--overwrite") == 0
    tiny.assert_same_run(half, reference)


# ----------------------------------------------------------------- configs --
@pytest.mark.parametrize(("entries", "expected"), [
    ({"chunk_updates": 0}, "chunk_updates 0 must be positive and divide"),
    ({"chunk_updates": -1}, "chunk_updates -1 must be positive"),
    ({"chunk_updates": 3}, "chunk_updates 3 must be positive and divide the number of updates 4"),
    ({"chunk_updates": "1"}, "`chunk_updates` must be an integer, got '1'"),
    ({"num_seeds": 0}, "num_seeds must be positive"),
    ({"seed": 1.5}, "`seed` must be an integer"),
    ({"total_steps": 16}, "total_steps 16 (1 updates) is below the 2 updates already done"),
    ({"num_envs": "2"}, "`num_envs` must be int, got '2'"),
    ({"anneal_lr": 0}, "`anneal_lr` must be bool, got 0"),
    ({"hidden_sizes": [8, "x"]}, "`hidden_sizes` must be"),
    ({"learning_rate": None}, "`learning_rate` must be float, got None"),
    ({"num_minibatches": 7}, "num_minibatches"),
    ({"bogus": 1}, "unknown ppo fields ['bogus']"),
    ({"algo": "sarsa"}, "unknown algo 'sarsa'"),
])
def test_bad_configs_are_one_line_errors(entries, expected, half, tiny, capsys):
    _set_config(half, **entries)
    assert tiny.resume(half) == 2
    line = tiny.one_line_error(capsys)
    assert expected in line
    assert "config.json" in line


def test_config_that_is_not_an_object(half, tiny, capsys):
    (half / "config.json").write_text("[1, 2]")
    assert tiny.resume(half) == 2
    assert "has no 'algo'" in tiny.one_line_error(capsys)


def test_integer_for_a_float_field_is_accepted(half):
    # JSON 1 for gamma 1.0 is read as the float 1.0 (the checkpoint then belongs to
    # another configuration, gamma 0.99, and that is what the error says).
    from jit_env.cli import _run_dir

    _set_config(half, gamma=1)
    rc = _run_dir.read_run_config(half)
    assert rc.config.gamma == 1.0
    assert isinstance(rc.config.gamma, float)


# ------------------------------------------------------------- metrics.csv --
def test_torn_last_row_is_dropped(half, tiny, reference, capsys):
    with (half / "metrics.csv").open("a") as f:
        f.write("3,0,48,0.1,nan,na")  # a write cut short
    assert tiny.resume(half) == 0
    assert "dropped a last row cut short" in capsys.readouterr().err
    tiny.assert_same_run(half, reference)


@pytest.mark.parametrize(("damage", "expected"), [
    (lambda lines: ["upd@te,seed"] + lines[1:], "line 1 is not a metrics header"),
    (lambda lines: lines[:1] + ["1,0,16"] + lines[2:], "line 2 is damaged"),
    (lambda lines: lines[:2] + ["x" + lines[2]] + lines[3:], "line 3 is damaged"),
])
def test_damaged_metrics_are_one_line_errors(damage, expected, half, tiny, capsys):
    path = half / "metrics.csv"
    path.write_text("\n".join(damage(path.read_text().splitlines())) + "\n")
    assert tiny.resume(half) == 2
    assert expected in tiny.one_line_error(capsys)


def test_truncation_keeps_rows_byte_for_byte(tmp_path):
    from jit_env.cli import _run_dir

    text = ("update,seed,env_steps,loss\n"
            "1,0,1015808,0.1\n"
            "2,0,2031616,nan\n"
            "3,0,3047424,1.0000001e-30\n")
    (tmp_path / "metrics.csv").write_text(text)
    assert _run_dir.truncate_metrics(tmp_path, 2) == []
    assert (tmp_path / "metrics.csv").read_text() == "".join(text.splitlines(True)[:3])


def test_metric_values_are_written_exactly():
    from jit_env.cli._run_dir import format_value

    assert format_value(np.float32(np.nan)) == "nan"
    assert format_value(np.float32(-np.inf)) == "-inf"
    assert format_value(np.float32(0.1)) == "0.1"
    assert np.float32(format_value(np.float32(1 / 3))) == np.float32(1 / 3)
    assert format_value(np.int32(1015808)) == "1015808"
    assert format_value(2 ** 40) == "1099511627776"
    assert format_value(0.1 + 0.2) == "0.30000000000000004"


# ------------------------------------------------------ writers and links --
def test_second_writer_is_refused(half, tiny, capsys):
    lock = _files.RunLock(half)  # another process writing the run
    try:
        assert tiny.resume(half) == 2
        assert "is in use by another jit-env process" in tiny.one_line_error(capsys)
        assert tiny.train(half, "--overwrite") == 2
        assert "is in use by another jit-env process" in tiny.one_line_error(capsys)
    finally:
        lock.release()
    assert tiny.resume(half) == 0


@pytest.mark.parametrize("name", ["metrics.csv", "checkpoints/latest.msgpack", "checkpoints",
                                  "returns.png", ".lock"])
def test_links_in_a_run_directory_are_refused(name, half, tiny, tmp_path, capsys):
    outside = tmp_path / "outside"
    target = half / name
    if target.is_dir():
        shutil.move(target, outside)
    else:
        outside.write_bytes(b"precious")
        target.unlink(missing_ok=True)
    target.symlink_to(outside)
    before = outside.read_bytes() if outside.is_file() else None
    assert tiny.resume(half) == 2
    line = tiny.one_line_error(capsys)
    assert "is a symbolic link; refusing to write through it" in line
    assert name in line
    assert (outside.read_bytes() if outside.is_file() else None) == before


# -------------------------------------------------------- flags and create --
def test_unknown_env_leaves_no_directory(tmp_path, tiny, capsys):
    out = tmp_path / "r2"
    assert tiny.train(out, "--env", "Nope-v9") == 2
    assert "Nope-v9" in tiny.one_line_error(capsys)
    assert not out.exists()


def test_existing_run_needs_resume_or_overwrite(tmp_path, tiny, reference, capsys):
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    assert tiny.train(out, "--seed", "1") == 2
    assert "use --resume" in tiny.one_line_error(capsys)
    assert tiny.train(out, "--overwrite") == 0
    tiny.assert_same_run(out, reference)


def test_resume_refuses_flags_it_cannot_honour(half, tiny, capsys):
    assert tiny.resume(half, "--env", "Acrobot-v1", "--seed=3", "--no-anneal-lr") == 2
    line = tiny.one_line_error(capsys)
    assert "cannot honour --anneal-lr, --env, --seed" in line


def test_resume_with_total_steps_extends_the_run(half, tiny, reference_8, capsys):
    assert tiny.resume(half, "--total-steps", str(16 * 8)) == 0
    assert "extending the run to total_steps 128" in capsys.readouterr().out
    tiny.assert_same_run(half, reference_8)  # --no-anneal-lr: no schedule over the length


def test_resume_with_total_steps_below_what_was_done(half, tiny, capsys):
    assert tiny.resume(half, "--total-steps", "16") == 2
    assert "is below the 2 updates already done" in tiny.one_line_error(capsys)
    assert _config(half)["config"]["total_steps"] == 64  # unchanged


def test_keep_copy_of_a_file_already_linked_leaves_no_stray(tmp_path):
    # After a crash between "previous := latest" and the new latest, the two names are
    # one file; rename(2) of two links to one inode does nothing, so keep_copy must not
    # leave its temporary link behind.
    (tmp_path / "latest").write_bytes(b"x")
    _files.keep_copy(tmp_path / "latest", tmp_path / "previous")
    _files.keep_copy(tmp_path / "latest", tmp_path / "previous")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "previous"]
    assert (tmp_path / "previous").read_bytes() == b"x"


def test_out_that_is_a_file_is_a_one_line_error(tmp_path, tiny, capsys):
    (tmp_path / "file").write_text("not a directory")
    assert tiny.train(tmp_path / "file") == 1
    assert "File exists" in tiny.one_line_error(capsys)
    assert (tmp_path / "file").read_text() == "not a directory"
