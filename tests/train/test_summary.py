from __future__ import annotations

import json

from shopmatch.train.summary import TrainingSummary


def test_summary_saves_json_and_png_and_loads_back(tmp_path):
    s = TrainingSummary(model="cross-encoder from tiny", config={"epochs": 2})
    for step in range(1, 5):
        s.log_loss(step=step, epoch=step / 2, loss=1.0 / step)
    s.log_epoch(epoch=1, seconds=3.0, metrics={"dev_ndcg@10": 0.5})
    s.log_epoch(epoch=2, seconds=3.5, metrics={"dev_ndcg@10": 0.7})
    s.best_epoch = 2
    json_path, png_path = s.save(tmp_path)
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(json_path.read_text())
    assert data["epochs"][1]["dev_ndcg@10"] == 0.7 and data["losses"][-1]["loss"] == 0.25
    again = TrainingSummary.load(tmp_path)
    assert again.best("dev_ndcg@10")["epoch"] == 2 and again.config == {"epochs": 2}
