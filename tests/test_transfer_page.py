"""The transfer-learning lesson in AppTest: a short experiment completes and shows its table,
the course documents' results beside it, the traps and the per-layer BatchNorm statistics; a
strategy cell sets the variants; the trained models join the session's runs. The experiment is a
job of the server's queue: it waits its turn, Stop cancels it while it waits, a failure is a message."""

import pytest

from conftest import busy_worker, no_errors, require, waits_first_in_line

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
    runs = at.session_state["training_runs"]  # seed 0's models join the session's runs, once
    assert [r.label.split()[0] for r in runs] == ["scratch", "frozen"]  # features has no model
    at.run()
    assert len(at.session_state["training_runs"]) == 2


def test_the_experiment_waits_its_turn_and_stop_cancels_it(at, monkeypatch):
    """One worker, busy with another student's job: the experiment waits as "queued, position 1";
    Stop then cancels it without disturbing the other job."""
    from workbench.jobs.job import CANCELLED, RUNNING

    queue, other = busy_worker(monkeypatch)
    at.button(key="xf_run").click()
    live = waits_first_in_line(at, "transfer_live")  # a workbench.transfer.job.QueuedExperiment
    live.stop()  # the Stop button's on_click
    at.run()
    assert no_errors(at) == [] and live.status == CANCELLED and "transfer_live" not in at.session_state
    assert any(i.value == "Stopped before it started: no run was trained." for i in at.info)
    assert other.status == RUNNING and "transfer_results" not in at.session_state
    queue.stop(other)
    queue.close()


def test_a_failing_experiment_shows_its_message(at, monkeypatch):
    from test_training_page import in_process
    from workbench.transfer import job as J

    def broken(spec, dataset):
        raise RuntimeError("the GPU ran out of memory")

    in_process(monkeypatch)
    monkeypatch.setattr(J, "prepare_data", broken)
    at.button(key="xf_run").click().run()
    assert [e.value for e in at.exception] == []
    assert any(e.value == "Could not run the experiment: the GPU ran out of memory" for e in at.error)
    assert "transfer_live" not in at.session_state and "transfer_results" not in at.session_state
