"""The ``--logger`` sinks: TensorBoard, W&B (offline) and JSON lines, read back by their own readers."""

from __future__ import annotations

import json
import math
import struct
import sys
import time

import pytest

from jit_env.cli._loggers import JSONLogger, TensorBoardLogger, WandbLogger, open_loggers

SPU = 64  # environment steps per update


def _rows(updates, seeds=2, offset=0.0):
    rows = []
    for u in updates:
        for s in range(seeds):
            rows.append({"update": u, "seed": s, "env_steps": u * SPU, "wall_time": 0.5 * u,
                         "loss": offset + u + 0.25 * s,
                         "eval_return": float(u) if u % 2 == 0 else math.nan})
    return rows


def _scalars(logdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_holds_every_value_at_every_step(tmp_path):
    logger = TensorBoardLogger(tmp_path, 2, steps_per_update=SPU)
    logger.write(_rows([1, 2]))
    logger.write(_rows([3]))
    logger.close()
    for s in range(2):
        scalars = _scalars(tmp_path / "tensorboard" / f"seed_{s}")
        assert set(scalars) == {"loss", "eval_return"}
        assert scalars["loss"] == [(u * SPU, u + 0.25 * s) for u in (1, 2, 3)]
        assert scalars["eval_return"] == [(128, 2.0)]  # NaN: no value in that update


def test_tensorboard_resume_purges_what_followed_the_checkpoint(tmp_path):
    first = TensorBoardLogger(tmp_path, 1, steps_per_update=SPU)
    first.write(_rows([1, 2, 3], seeds=1))  # update 3 was written, its checkpoint was not
    first.close()
    again = TensorBoardLogger(tmp_path, 1, resume_update=2, steps_per_update=SPU)
    again.write(_rows([3, 4], seeds=1, offset=100.0))
    again.close()
    loss = _scalars(tmp_path / "tensorboard" / "seed_0")["loss"]
    assert loss == [(64, 1.0), (128, 2.0), (192, 103.0), (256, 104.0)]


def test_json_lines_match_the_rows_and_resume_without_duplicates(tmp_path):
    logger = JSONLogger(tmp_path)
    logger.write(_rows([1, 2, 3]))
    logger.close()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 6
    assert records[0] == {"update": 1, "seed": 0, "env_steps": 64, "wall_time": 0.5,
                          "loss": 1.0, "eval_return": None}
    assert records[3]["eval_return"] == 2.0
    # Interrupted after update 3's rows, resumed from update 2's checkpoint.
    with (tmp_path / "metrics.jsonl").open("a") as f:
        f.write('{"update": 4, "se')  # a torn line
    again = JSONLogger(tmp_path, resume_update=2)
    again.write(_rows([3], offset=100.0))
    again.close()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["update"], r["seed"]) for r in records] == [(1, 0), (1, 1), (2, 0), (2, 1),
                                                           (3, 0), (3, 1)]
    assert records[-1]["loss"] == 103.25


def _wandb_history(run_dir):
    """Every history record of every offline run file under ``run_dir/wandb``.

    The ``.wandb`` file is W&B's LevelDB-style log (a 7-byte ``:W&B`` header, then
    32 KiB blocks of records with a 7-byte header: crc32c, length, type); each
    record is a ``wandb_internal_pb2.Record``.
    """
    from wandb.proto import wandb_internal_pb2 as pb

    history = []
    for path in sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb")):
        data = path.read_bytes()
        assert data[:4] == b":W&B"
        pos, chunks = 7, []
        while pos < len(data):
            left = 32768 - pos % 32768
            if left < 7:
                pos += left
                continue
            _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
            pos += 7
            if kind == 0 and length == 0:
                pos += left - 7
                continue
            chunks.append(data[pos:pos + length])
            pos += length
            if kind in (1, 4):  # FULL or LAST
                record = pb.Record()
                record.ParseFromString(b"".join(chunks))
                chunks = []
                if record.WhichOneof("record_type") == "history":
                    history.append({i.key or "/".join(i.nested_key): json.loads(i.value_json)
                                    for i in record.history.item})
    return history


def test_wandb_offline_run_holds_the_metrics_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    logger = WandbLogger(tmp_path, {"algo": "ppo"})
    logger.write(_rows([1, 2]))
    logger.close()
    run_id = (tmp_path / "wandb_id").read_text().strip()
    # W&B names an offline run's folder by run id and start time in whole seconds: a
    # resume within the same second would reuse (and overwrite) the first run's file.
    time.sleep(1.0 - time.time() % 1.0 + 0.05)
    again = WandbLogger(tmp_path, {"algo": "ppo"}, resume_update=2)
    assert (tmp_path / "wandb_id").read_text().strip() == run_id
    again.write(_rows([1, 2, 3]))  # rows up to the checkpoint are skipped
    again.close()
    history = _wandb_history(tmp_path)
    assert [h["_step"] for h in history] == [1, 2, 3]
    assert history[0]["seed_1/loss"] == 1.25
    assert "seed_0/eval_return" not in history[0]  # NaN: left out
    assert history[1]["seed_0/eval_return"] == 2.0
    assert history[2]["env_steps"] == 3 * SPU


def test_a_missing_extra_is_named(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"needs the 'tensorboard' extra: pip install"):
        open_loggers(["csv", "tensorboard"], tmp_path, num_seeds=1, steps_per_update=1,
                     config={})
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ImportError, match=r"needs the 'wandb' extra"):
        open_loggers(["wandb"], tmp_path, num_seeds=1, steps_per_update=1, config={})
    with pytest.raises(ValueError, match="unknown logger 'csvv'"):
        open_loggers(["csvv"], tmp_path, num_seeds=1, steps_per_update=1, config={})
    assert open_loggers(["csv"], tmp_path, num_seeds=1, steps_per_update=1, config={}) == []
