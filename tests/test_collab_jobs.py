"""The collab jobs through the training service: lr_find, fit with everything the results draw, the course's
fine_tune, Stop, bad settings and data, and what a reader gets back from the store alone."""
import json

import numpy as np
import pytest

from core.collab.data import prepare
from core.collab.interpret import predict
from core.collab.jobs import load_run
from core.errors import StudentError
from core.runs import CANCELLED, DONE, FAILED, RunDamaged
from tests.conftest import store_csv
from tests.helpers import wait_until
from tests.test_collab_model import taste_ratings

SMALL = dict(n_factors=8, batch_size=64, wd=0.01, lr=3e-2)


@pytest.fixture
def service(service, monkeypatch):
    monkeypatch.setenv("LESSON1_DEVICE", "cpu")
    return service


def fit(service, ratings=None, **config):
    ratings = taste_ratings() if ratings is None else ratings
    run = service.submit("collab", "fit", store_csv(service, ratings), dict(SMALL, **config), owner="t")
    return service.wait(run.id, timeout=120)


def test_lr_find_job(service):
    run = service.submit("collab", "lr_find", store_csv(service, taste_ratings()), SMALL, owner="t")
    record = service.wait(run.id, timeout=60)
    assert record.status == DONE, record.error
    found = service.store.results(run.id)
    assert len(found["lrs"]) == len(found["losses"]) > 10 and found["valley"] is not None


def test_fit_job_results_are_read_back_from_the_store(service):
    ratings = taste_ratings()
    record = fit(service, ratings, epochs=4, seed=3)
    assert record.status == DONE, record.error
    assert [row["epoch"] for row in record.epoch_table] == [0, 1, 2, 3]
    loaded = load_run(service.store, record)
    summary = loaded.summary
    assert record.metrics["rmse"] == summary["rmse"] == pytest.approx(record.epoch_table[-1]["rmse"], rel=1e-4)
    assert summary["rmse"] < summary["baseline"]["biases_rmse"] < summary["baseline"]["mean_rmse"]
    assert summary["seed"] == 3 and summary["method"] == "fit_one_cycle" and summary["n_factors"] == 8
    data = prepare(ratings)                                    # the same split and vocabularies, rebuilt
    assert loaded.users == data.users and loaded.items == data.items
    x, y = data.tensors(data.valid_idx)
    assert np.allclose(predict(loaded.model, x).numpy(), loaded.valid_preds, atol=1e-6)
    assert np.array_equal(loaded.valid_targets, y.numpy())
    assert list(loaded.show_results.columns) == ["user", "movie", "rating", "prediction"]
    assert len(loaded.show_results) == 10
    assert len(loaded.pca) == len(data.items) - 1 and loaded.pca["ratings"].is_monotonic_decreasing
    folder = service.store.path(record.id)
    meta = json.loads((folder / "model.json").read_text())
    assert meta["users"] == data.users and meta["items"] == data.items          # vocabularies as JSON
    results = (folder / "results.json").read_text()
    assert "show_results" not in results and "movie 1" not in results         # the student's rows are not copied


def test_the_chapter_1_recipe_is_fine_tune_as_fastai_runs_it_on_collab(service):
    record = fit(service, method="fine_tune", epochs=2, lr=2e-3, wd=0.01)
    assert record.status == DONE, record.error
    assert [(row["epoch"], row["phase"]) for row in record.epoch_table] == [(0, "cycle 1"), (1, "cycle 2"),
                                                                            (2, "cycle 2")]
    assert load_run(service.store, record).summary["method"] == "fine_tune"


def test_most_rated_only_trains_on_fewer_items(service):
    record = fit(service, epochs=1, top_items=10)
    assert record.status == DONE, record.error
    loaded = load_run(service.store, record)
    assert len(loaded.items) == 11 and loaded.summary["top_items"] == 10
    assert any("10 most-rated" in n for n in loaded.summary["notes"])


def test_the_neural_net_version_trains_too(service):
    record = fit(service, use_nn=True, layers=[16], lr=1e-2, epochs=2)
    assert record.status == DONE, record.error
    loaded = load_run(service.store, record)
    assert loaded.summary["rmse"] < loaded.summary["baseline"]["mean_rmse"] and loaded.pca is not None


def test_stop_keeps_the_model(service):
    run = service.submit("collab", "fit", store_csv(service, taste_ratings(200, 100)),
                         dict(SMALL, lr=1e-2, epochs=30, batch_size=16), owner="t")
    wait_until(lambda: service.store.read(run.id).status == "running", timeout=60)
    wait_until(lambda: [e for e in service.store.events(run.id).read_new() if e["e"] == "epoch"], timeout=60)
    service.cancel(run.id, by="t")
    record = service.wait(run.id, timeout=60)
    assert record.status == CANCELLED
    loaded = load_run(service.store, record)
    assert loaded.summary["stopped_early"] and loaded.summary["epochs_done"] < 30


@pytest.mark.parametrize("config, words", [
    (dict(lr=-1), "'lr' must be a number"),
    (dict(n_factors="50"), "'n_factors' must be a whole number"),
    (dict(n_factors=10_000), "'n_factors'"),
    (dict(y_range=[5, 1]), "high end"),
    (dict(method="fit_flat_cos"), "training method"),
    (dict(columns={"user": "user"}), "columns"),
])
def test_bad_settings_are_refused_with_a_sentence(service, config, words):
    """Refused when the run is submitted: a sentence at once, nothing queued."""
    with pytest.raises(StudentError) as refused:
        fit(service, **config)
    assert words in str(refused.value) and not service.store.owner_ids("t")


def test_a_missing_column_and_an_infinite_rating_fail_with_a_sentence(service):
    record = fit(service, columns={"user": "user", "item": "title", "rating": "rating"})
    assert record.status == FAILED and "'title' are not in the table" in record.error
    ratings = taste_ratings()
    ratings.loc[5, "rating"] = np.inf
    record = fit(service, ratings)
    assert record.status == FAILED and "infinite number (row 7 of the file" in record.error


def test_nan_ratings_are_left_out_and_said(service):
    ratings = taste_ratings()
    ratings.loc[[4, 9], "rating"] = np.nan
    record = fit(service, ratings, epochs=1)
    assert record.status == DONE, record.error
    assert any("2 rows with a blank or missing" in n for n in load_run(service.store, record).summary["notes"])


def test_a_model_too_big_for_the_server_is_refused_before_training(service, monkeypatch):
    from core.collab import jobs
    monkeypatch.setattr(jobs, "MAX_PARAMETERS", 500)
    record = fit(service)
    assert record.status == FAILED and "trains up to 500" in record.error


def test_the_download_asked_for_offline_is_never_replaced_by_other_ratings(service, monkeypatch):
    monkeypatch.setenv("LESSON1_OFFLINE", "1")
    run = service.submit("collab", "fit", {"dataset": "movielens", "source": "online"}, SMALL, owner="t")
    record = service.wait(run.id, timeout=60)
    assert record.status == FAILED and "ML_SAMPLE could not be downloaded" in record.error


def test_damaged_run_files_give_a_sentence(service):
    record = fit(service, epochs=1)
    assert record.status == DONE, record.error
    folder = service.store.path(record.id)
    weights = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(weights[:100])
    with pytest.raises(RunDamaged, match="saved model is damaged"):
        load_run(service.store, record)
    (folder / "model.safetensors").write_bytes(weights)
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps(dict(meta, items=meta["items"][:-1])))
    with pytest.raises(RunDamaged, match="saved model is damaged"):
        load_run(service.store, record)
    (folder / "model.json").write_text(json.dumps(meta))
    arrays = (folder / "arrays.safetensors").read_bytes()
    (folder / "arrays.safetensors").write_bytes(b"\x00" * 50)
    with pytest.raises(RunDamaged, match="results file is damaged"):
        load_run(service.store, record)
    (folder / "arrays.safetensors").write_bytes(arrays)
    assert load_run(service.store, record).summary["rmse"] == record.metrics["rmse"]       # all put back
    (folder / "model.json").unlink()
    with pytest.raises(RunDamaged, match="model was not saved"):
        load_run(service.store, record)


def test_the_ml_sample_download_trains_and_reads_back_from_its_cached_copy(service, monkeypatch, tmp_path):
    """fast.ai's ML_SAMPLE (userId, movieId, rating, timestamp), as a cached download: the run names it, and a reader
    re-reads the same file."""
    import core.datasets
    from core.datasets import ResolvedDataset, get_dataset
    ratings = taste_ratings()
    sample = ratings.assign(userId=ratings["user"], movieId=ratings["item"].str.slice(6).astype(int) + 900_000,
                            timestamp=0)[["userId", "movieId", "rating", "timestamp"]]
    sample.to_csv(tmp_path / "ratings.csv", index=False)
    found = ResolvedDataset(get_dataset("movielens"), tmp_path, "cache", "Using ML_SAMPLE downloaded earlier.")
    monkeypatch.setattr(core.datasets, "resolve", lambda name, prefer_online=False, **kw: found)
    run = service.submit("collab", "fit", {"dataset": "movielens", "source": "online"}, dict(SMALL, epochs=2),
                         owner="t")
    record = service.wait(run.id, timeout=120)
    assert record.status == DONE, record.error
    assert record.fingerprint.startswith("md5:")                          # fastai's checksum of the archive
    loaded = load_run(service.store, record)
    assert loaded.summary["n_ratings"] == len(sample) and "movie 900001" in loaded.items
