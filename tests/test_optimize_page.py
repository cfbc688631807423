"""The optimizer lesson in Streamlit's AppTest: the race is animated (frames, play, slider), the
state panel writes Adam's step 10 out with the framework's numbers, Keras vs PyTorch names the
separation step, the sweep and fair race draw, and a short CNN race runs as a job of the server's queue
(it waits its turn, Stop cancels it while it waits, a failure is a message)."""

import json

import pytest

from conftest import busy_worker, no_errors, waits_first_in_line


def charts(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


@pytest.fixture
def at(lesson_app):
    return lesson_app("optimizers")


def test_race_is_animated_with_every_optimizer(at):
    assert no_errors(at) == []
    race = next(s for s in charts(at) if s.get("frames"))
    assert len(race["frames"]) >= 30 and race["layout"]["updatemenus"][0]["buttons"][0]["label"] == "▶ Play"
    assert len(race["layout"]["sliders"][0]["steps"]) == len(race["frames"])
    names = {t.get("name") for t in race["data"]}
    assert {"sgd", "momentum", "adagrad", "adam", "amsgrad", "minimum"} <= names
    assert race["data"][0]["type"] == "contour"
    last = race["frames"][-1]["data"]
    assert len(last) == 20  # a trail and a marker per optimizer


def test_state_panel_fills_in_adams_step_10(at):
    assert at.selectbox(key="opt_state_name").value == "adam" and at.slider(key="opt_state_step").value == 10
    code = "\n".join(c.value for c in at.code)
    assert "α = lr·sqrt(1 − β2^t) / (1 − β1^t)" in code and "^10" in code
    assert any("optimizer.variables" in m.value for m in at.markdown)
    assert any("The framework's x after step 10" in s.value for s in at.success)


def test_keras_vs_pytorch_rmsprop(at):
    at.selectbox(key="opt_surface").set_value("ellipse").run()
    at.number_input(key="opt_steps").set_value(400).run()
    at.selectbox(key="opt_mode").set_value("matched").run()
    assert at.selectbox(key="opt_cmp").value == "rmsprop"  # same settings: only ε's place differs
    text = " ".join(w.value for w in at.warning) + " ".join(m.value for m in at.markdown)
    assert "separate at **step" in text and "sqrt(v + ε)" in text
    assert not at.exception


def test_the_sweep_and_fair_race(at):
    at.number_input(key="opt_steps").set_value(60).run()
    at.multiselect(key="opt_chosen").set_value(["sgd", "adam"]).run()
    at.button(key="opt_sweep_go").click().run(timeout=300)
    assert no_errors(at) == []
    sweep = next(s for s in charts(at) if s["layout"].get("xaxis", {}).get("title", {}).get("text") == "learning rate")
    assert {t["name"] for t in sweep["data"]} == {"sgd (tensorflow)", "adam (tensorflow)", "sgd (pytorch)",
                                                  "adam (pytorch)"}
    assert any("Fair race in tensorflow" in m.value for m in at.markdown)


def test_a_hostile_formula_gets_a_message(at):
    at.selectbox(key="opt_surface").set_value("your own formula").run()
    at.text_input(key="opt_formula").set_value("__import__('os')").run()
    assert any("unknown name '__import__'" in e.value for e in at.error) and not at.exception


def test_a_short_cnn_race(at):
    _cnn_race_settings(at)
    at.run()
    at.button(key="opt_cnn_go").click().run(timeout=300)
    assert no_errors(at) == []
    loss = next(s for s in charts(at) if s["layout"].get("title", {}).get("text", "").startswith("cnn1: training loss"))
    assert {t["name"] for t in loss["data"]} == {"sgd", "adam"} and all(len(t["y"]) == 5 for t in loss["data"])


def test_defaults_part_at_once_and_matched_settings_say_what_is_left(at):
    # RMSprop with each framework's defaults (rho 0.9 vs alpha 0.99, eps 1e-7 vs 1e-8) parts at step 1
    assert at.selectbox(key="opt_mode").value == "defaults"
    warnings = " ".join(w.value for w in at.warning)
    assert "separate at **step 1**" in warnings
    text = " ".join(m.value for m in at.markdown)
    assert "default rho: pytorch alpha = 0.99, tensorflow 0.9" in text and "weight_decay" not in text
    assert "With the same settings given to both (matched)" in text


def _cnn_race_settings(at, steps=5):
    """A short race of two optimizers, set up in one script run (the next)."""
    at.multiselect(key="opt_chosen").set_value(["sgd", "adam"])
    at.selectbox(key="opt_backend").set_value("pytorch")
    at.selectbox(key="opt_cnn_arch").set_value("cnn1")
    at.number_input(key="opt_cnn_steps").set_value(steps)
    at.number_input(key="opt_cnn_images").set_value(300)


def test_the_cnn_race_waits_its_turn_and_stop_cancels_it(at, monkeypatch):
    """One worker, busy with another student's job: the race waits as "queued, position 1"; Stop
    then cancels it without disturbing the other job."""
    from workbench.jobs.job import CANCELLED, RUNNING

    queue, other = busy_worker(monkeypatch)
    _cnn_race_settings(at)
    at.button(key="opt_cnn_go").click()
    live = waits_first_in_line(at, "opt_cnn_live")  # a workbench.optimize.job.QueuedRace
    live.stop()  # the Stop button's on_click
    at.button(key="opt_cnn_go").set_value(False)  # the timed-out run's click is spent (AppTest would replay it)
    at.run()
    assert no_errors(at) == [] and live.status == CANCELLED and not live.events
    assert at.session_state["opt_cnn_live"] is live
    assert any(i.value == "Stopped before it started." for i in at.info)
    assert other.status == RUNNING
    queue.stop(other)
    queue.close()


def test_a_failing_race_shows_its_message(at, monkeypatch):
    from test_training_page import in_process
    from workbench_plugins.torch_backend import optimize as O

    def broken(*args, **kwargs):
        raise RuntimeError("the GPU ran out of memory")

    in_process(monkeypatch)
    monkeypatch.setattr(O, "_train", broken)
    _cnn_race_settings(at, steps=2)
    at.button(key="opt_cnn_go").click().run()
    assert [e.value for e in at.exception] == []
    assert any(e.value == "Could not race on the CNN: the GPU ran out of memory" for e in at.error)
