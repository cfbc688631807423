"""The transfer-learning lesson in AppTest: a short experiment completes and shows its table,
the course documents' results beside it, the traps and the per-layer BatchNorm statistics; a
strategy cell sets the variants; the trained models join the session's runs."""

import pytest

from conftest import no_errors, require

require("torch")


@pytest.fixture
def at(lesson_app):
    return lesson_app("transfer")


def test_a_strategy_cell_sets_up_its_variants(at):
    assert no_errors(at) == [] and at.title[0].value == "Transfer learning"
    at.button(key="xf_cell_little_similar").click().run()
    assert at.multiselect(key="xf_variants").value == ["frozen", "features"]
    assert at.multiselect(key="xf_fractions").value == [0.05]


def test_a_short_experiment_shows_its_table(at):
    at.selectbox(key="xf_backend").set_value("pytorch").run()
    at.multiselect(key="xf_variants").set_value(["scratch", "frozen", "features"]).run()
    at.number_input(key="xf_seeds").set_value(1).run()
    at.number_input(key="xf_limit").set_value(16).run()
    at.button(key="xf_run").click().run(timeout=600)
    assert no_errors(at) == []
    table = next(d.value for d in at.dataframe if "variant" in d.value.columns)  # AppTest finds no dataframe by key
    assert list(table["variant"]) == ["scratch", "frozen", "features"]
    assert table.set_index("variant").loc["frozen", "trainable tensors"] == 2
    assert table.set_index("variant").loc["frozen", "features cached"] == "yes"
    assert any("CS 577" in m.value for m in at.markdown)
    assert any("BatchNorm" in m.value for m in at.markdown)  # the per-layer statistics
    runs = at.session_state["workbench_trained_runs"] if "workbench_trained_runs" in at.session_state else None
    assert runs is None or len(runs) >= 2
