"""The well-performing CNN lesson in Streamlit's AppTest: every tab renders offline with the
frameworks' numbers, and a short background run of each tab's experiment completes."""

import json

import pytest

from conftest import no_errors


@pytest.fixture
def at(lesson_app):
    return lesson_app("well_performing")


def charts(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def metric(at, label):
    return next(m.value for m in at.metric if m.label.startswith(label))


def test_every_tab_renders(at):
    assert no_errors(at) == []
    assert at.title[0].value == "A well-performing CNN"
    assert [t.label for t in at.tabs] == ["Standardisation", "Dropout", "Batch norm & dead ReLUs", "Initialisation",
                                          "cnn1 vs cnn2"]
    # dropout: the lecture's 1/2 (w0 x + w1 y) with w0 0.3, w1 -0.7, x 2, y 1
    assert metric(at, "E[a], four masks") == "-0.05"
    assert metric(at, "inference output") == "-0.1"
    assert metric(at, "lecture's test-time output") == "-0.05"
    assert any("multiplied every kept one by **2**" in m.value for m in at.markdown)
    # batch norm: hand vs framework, both backends, both modes
    bn = next(d.value for d in at.dataframe if "max |framework - hand|" in d.value.columns)
    assert len(bn) == 4 and (bn["max |framework - hand|"] < 1e-4).all()
    # cnn1 vs cnn2: the lecture's ~251k and ~36k, equal in the calculator and both backends
    counts = next(d.value for d in at.dataframe if "calculator" in d.value.columns)
    assert counts.set_index("architecture")["calculator"].to_dict() == {"cnn1": 251650, "cnn2": 36314}
    assert (counts["tensorflow"] == counts["calculator"]).all() and (counts["pytorch"] == counts["calculator"]).all()
    # initialisation: the step-0 chart has a trace per init in each panel
    step0 = next(c for c in charts(at) if "step 0" in c["layout"]["title"]["text"])
    assert len(step0["data"]) == 8


def test_dropout_inputs_change_the_numbers(at):
    at.number_input(key="wp_do_p").set_value(0.2).run()
    assert no_errors(at) == []
    assert metric(at, "E[a], four masks") == "-0.08"
    assert metric(at, "lecture's test-time output") == "-0.08"
    assert any("kept one by **1.25**" in m.value for m in at.markdown)


def test_standardisation_run(at):
    at.number_input(key="wp_std_epochs").set_value(1).run()
    at.number_input(key="wp_std_limit").set_value(100).run()
    at.multiselect(key="wp_std_modes").set_value(["rescaled", "per_pixel"]).run()
    at.button(key="wp_std_go").click().run()
    assert no_errors(at) == []
    names = {t["name"] for c in charts(at) for t in c["data"] if "name" in t}
    assert {"rescaled train", "rescaled val", "per_pixel train", "per_pixel val"} <= names
    table = next(d.value for d in at.dataframe if "best val accuracy" in d.value.columns)
    assert len(table) == 2
    assert any(a.value.startswith(("Reproduced", "Refuted", "Partly")) for a in list(at.success) + list(at.warning) + list(at.info))


def test_dead_relu_run_with_and_without_bn(at):
    at.selectbox(key="wp_bn_backend").set_value("pytorch").run()
    at.number_input(key="wp_bn_epochs").set_value(1).run()
    at.number_input(key="wp_bn_limit").set_value(300).run()
    at.button(key="wp_bn_go").click().run()
    assert no_errors(at) == []
    dead = next(c for c in charts(at) if "dead ReLU" in c["layout"]["title"]["text"])
    names = {t["name"] for t in dead["data"]}
    assert names == {"no BN, init default: activation_1", "no BN, init default: activation_2",
                     "BN, init default: activation_1", "BN, init default: activation_2"}
    assert all(len(t["x"]) == 2 for t in dead["data"])  # epoch 0 and 1
    hists = [c for c in charts(at) if "the ReLUs' input" in c["layout"]["title"]["text"]]
    assert len(hists) == 2


@pytest.mark.parametrize("tab", ["do", "in", "cnn"])
def test_other_runs_complete(at, tab):
    at.number_input(key=f"wp_{tab}_epochs").set_value(1).run()
    at.number_input(key=f"wp_{tab}_limit").set_value(100).run()
    at.button(key=f"wp_{tab}_go").click().run()
    assert no_errors(at) == []
    curves = [c for c in charts(at) if any(t.get("name", "").endswith(" val") for t in c["data"])]
    assert curves
    expected = {"do": 2, "in": 4, "cnn": 2}[tab]
    assert len({t["name"] for c in curves for t in c["data"] if t.get("name", "").endswith(" val")}) == expected


def test_stop_ends_the_experiment_and_keeps_what_ran(at, monkeypatch):
    from test_training_page import gated_train  # the real training, held after epoch 1 until Stop

    calls = []
    gated_train(monkeypatch, calls)
    at.number_input(key="wp_cnn_epochs").set_value(4).run()
    at.number_input(key="wp_cnn_limit").set_value(100).run()
    at.button(key="wp_cnn_go").click()
    with pytest.raises(RuntimeError, match="timed out"):  # the page follows the run, which is held
        at.run(timeout=8)
    job = at.session_state["wp_jobs"]["cnn"]
    assert job.running and list(job.results) == ["cnn1"]
    job.stop()  # the Stop button's on_click
    at.run()
    assert no_errors(at) == []
    assert len(calls) == 1  # cnn2 was not started after the stop
    history = job.results["cnn1"].history
    assert [r["epoch"] for r in history] == [1, 2] and history[-1]["stopped"].startswith("stopped by the user")
    assert any(i.value.startswith("cnn1: stopped by the user") for i in at.info)
    assert at.button(key="wp_std_go").disabled is False  # the next experiment can start


def sent_progress(monkeypatch) -> list[str]:
    """The texts of every progress bar update the page sends (AppTest's tree keeps only the last
    finished script run, and a run that follows a waiting job does not finish)."""
    from streamlit.delta_generator import DeltaGenerator

    texts, real = [], DeltaGenerator.progress

    def progress(self, value, text=None):
        texts.append(text or "")
        return real(self, value, text)

    monkeypatch.setattr(DeltaGenerator, "progress", progress)
    return texts


def test_waits_in_the_queue_while_another_student_holds_the_worker(at, monkeypatch):
    from test_training_page import in_process
    from workbench.jobs import queue as Q

    in_process(monkeypatch)  # one worker slot
    other = Q.server_queue().submit("probe", {"steps": 2000, "seconds": 0.05}, owner="another student")
    shown = sent_progress(monkeypatch)
    at.selectbox(key="wp_cnn_backend").set_value("pytorch")  # the settings and the click in one script run
    at.number_input(key="wp_cnn_epochs").set_value(1)
    at.number_input(key="wp_cnn_limit").set_value(100)
    at.button(key="wp_cnn_go").click()
    with pytest.raises(RuntimeError, match="timed out"):  # the page follows the job, which waits
        at.run(timeout=5)
    job = at.session_state["wp_jobs"]["cnn"]
    assert job.status == "queued" and job.position == 1
    assert any(t.startswith("queued, position 1: waiting for a free worker") for t in shown)
    job.stop()  # Stop while it waits: it never starts, and the page says so
    at.run()
    assert no_errors(at) == [] and job.status == "cancelled"
    assert any(i.value == "The run stopped before it started." for i in at.info)
    at.button(key="wp_cnn_go").click()  # again, and this time the other job ends
    with pytest.raises(RuntimeError, match="timed out"):
        at.run(timeout=3)
    job = at.session_state["wp_jobs"]["cnn"]
    assert job.status == "queued" and job.position == 1
    Q.server_queue().stop(other)  # the other student's job ends: this one starts and completes
    at.run()
    assert no_errors(at) == []
    assert job.status == "done" and list(job.results) == ["cnn1", "cnn2"]
    assert all(len(r.history) == 1 for r in job.results.values())


def test_a_failing_experiment_shows_its_message_and_the_page_goes_on(at, monkeypatch):
    from test_training_page import in_process
    from workbench_plugins.tensorflow_backend import training as T

    def broken(backend, model, data, config, on_epoch=None):
        raise RuntimeError("the GPU ran out of memory")

    in_process(monkeypatch)
    monkeypatch.setattr(T, "train", broken)
    at.number_input(key="wp_in_epochs").set_value(1).run()
    at.number_input(key="wp_in_limit").set_value(100).run()
    at.button(key="wp_in_go").click().run()
    assert [e.value for e in at.exception] == []
    assert [e.value for e in at.error] == ["The run failed: the GPU ran out of memory"]
    assert at.button(key="wp_in_go").disabled is False  # the next experiment can start
