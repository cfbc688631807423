"""The explanation lesson's work as jobs (workbench.jobs.explain): the page's grid through the
queue equals run_methods computed here; the page shows its place in the queue while another
student's job holds the worker; a failing job shows its message, no traceback; class-wide work
(filters, filter patterns) is computed once per model and parameters whatever the photo, while
what reads the photo (saliency, max-patches ranked over the photos) is computed again.

Oracles: run_methods and each explainer's own explain() in this process, on the same seeded model
and the same inputs (workbench.explain.inputs.model_inputs of the same photo)."""

import numpy as np
import pytest

from conftest import busy_worker, no_errors, require, waits_first_in_line
from workbench import lookup, samples
from workbench.explain.compare import run_methods
from workbench.explain.inputs import model_inputs
from workbench.jobs import cache
from workbench.jobs.job import DONE, RUNNING

require("torch")

METHODS = ["saliency", "grad-cam"]


def in_process(monkeypatch, slots=1):
    """The server's queue runs its jobs in threads of this process, so that this process's caches
    (and a patched function) are the worker's."""
    from workbench.jobs import queue as Q
    from workbench.jobs.executors import ThreadExecutor

    queue = Q.JobQueue(ThreadExecutor(slots=slots))
    monkeypatch.setattr(Q, "_SERVER", queue)
    return queue


def explain_page(lesson_app, methods=METHODS, photos=("coffee",), run=True):
    at = lesson_app("explanations")
    at.selectbox(key="ex_model").set_value("mnist-cnn").run()
    at.selectbox(key="ex_backend").set_value("pytorch").run()
    at.multiselect(key="ex_samples").set_value(list(photos)).run()
    at.multiselect(key="ex_methods").set_value(methods).run()
    at.button(key="ex_run").click()
    if run:
        at.run()
    return at


def here(photos=("coffee",), methods=METHODS):
    backend = lookup.backend("pytorch")
    arch = lookup.architecture("mnist-cnn")
    model = backend.build(arch)
    x, _ = model_inputs(arch, "pytorch", [samples.load(p) for p in photos], model)
    return run_methods(backend, model, x, methods, steps=10)


def test_the_pages_grid_through_a_worker_process_equals_the_grid_computed_here(lesson_app):
    at = explain_page(lesson_app)
    assert no_errors(at) == [] and "ex_live" not in at.session_state
    captions = [c.value for c in at.caption]
    assert "saliency · image 1" in captions and "grad-cam · image 1" in captions
    _, preds, result = at.session_state["ex_result"]
    expected = here()
    assert result["targets"] == expected["targets"] == [preds[0][0]["index"]]
    for name in METHODS:
        np.testing.assert_allclose(result["explanations"][name].maps, expected["explanations"][name].maps,
                                   rtol=1e-4, atol=1e-6)
        table = at.dataframe[1].value
        assert table.loc[name, "deletion_auc"] == pytest.approx(expected["scores"][name]["deletion_auc"], abs=1e-5)
    assert len(result["curves"]["saliency"]) == 1 and {"deletion", "insertion"} <= set(result["curves"]["saliency"][0])


def test_the_page_shows_its_place_in_the_queue_while_another_student_holds_the_worker(lesson_app, monkeypatch):
    queue, other = busy_worker(monkeypatch)
    at = explain_page(lesson_app, run=False)
    live = waits_first_in_line(at, "ex_live")
    assert other.status == RUNNING
    queue.stop(other)
    at.run()
    assert no_errors(at) == [] and live.status == DONE and "ex_live" not in at.session_state
    assert [e["method"] for e in live.events][:2] == METHODS  # one progress event per method, in order
    assert live.error is None and at.session_state["ex_result"][2] is live.result, live.error
    queue.close()


def test_a_failing_explanation_job_shows_its_message_and_no_traceback(lesson_app, monkeypatch):
    from workbench.jobs import explain as E

    in_process(monkeypatch)

    def broken(*args, **kwargs):
        raise RuntimeError("the worker ran out of memory")

    monkeypatch.setattr(E, "run_methods", broken)
    cache.shared("explanations").clear()
    at = explain_page(lesson_app)
    assert [e.value for e in at.exception] == []
    assert "Could not explain the images: the worker ran out of memory" in [e.value for e in at.error]
    assert "ex_live" not in at.session_state and "ex_result" not in at.session_state
    at.run()  # nothing comes back on the next rerun
    assert no_errors(at) == [] and "ex_result" not in at.session_state


def test_class_wide_methods_are_computed_once_per_model_and_parameters_whatever_the_photo(monkeypatch):
    """Filters, filter patterns and max-patches ranked over a dataset read of the photo only its
    size (and value range): another photo is served from the per-method cache; saliency, and
    max-patches ranked over the photos themselves, are computed again; another parameter (zoom,
    channels, how many dataset images) is computed too."""
    from workbench.explain.base import Explainer
    from workbench.jobs.explain import explain
    from workbench.registry import get_registry

    computed = []
    real = Explainer.explain

    def counted(self, *args, **kwargs):
        computed.append(self.name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Explainer, "explain", counted)
    for name in ("explanations", "explanation-methods"):
        cache.shared(name).clear()
    rng = np.random.default_rng(0)
    photos = rng.random((2, 1, 28, 28, 1), dtype=np.float32)
    photos[:, 0, 0, :2, 0] = 0, 1  # both photos span the same value range
    methods = ["filters", "filter-patterns", "max-patches", "saliency"]
    over_data = {"max-patches": {"dataset": "mnist-5k", "dataset_images": 8}}

    def job(images, params):
        return explain({"backend": "pytorch", "arch": "mnist-cnn", "images": images, "methods": methods,
                        "params": params, "steps": 2}, lambda event: None, None)

    job(photos[0], over_data)
    assert computed == methods
    stats = cache.shared("explanation-methods").stats()
    computed.clear()
    second = job(photos[1], over_data)
    assert computed == ["saliency"]
    after = cache.shared("explanation-methods").stats()
    assert (after["hits"] - stats["hits"], after["misses"] - stats["misses"]) == (3, 1)
    # what the cache served is what the methods compute on the second photo
    backend = lookup.backend("pytorch")
    model = backend.build(lookup.architecture("mnist-cnn"))
    explainers = get_registry().explainers()
    for name in ("filters", "filter-patterns", "max-patches"):
        fresh = real(explainers[name], backend, model, photos[1], **over_data.get(name, {}))
        for (label, grid), (fresh_label, fresh_grid) in zip(second["explanations"][name]["grids"].items(),
                                                            fresh.grids.items(), strict=True):
            assert label == fresh_label
            np.testing.assert_array_equal(grid, fresh_grid)

    other = {"filters": {"zoom": 2}, "filter-patterns": {"channels": 2},
             "max-patches": {"dataset": "mnist-5k", "dataset_images": 4}}
    computed.clear()
    job(photos[1], other)
    assert computed == ["filters", "filter-patterns", "max-patches"]  # another parameter: computed
    computed.clear()
    job(photos[1], other)
    assert computed == []  # the whole grid asked again: from the cache
    job(photos[0], {})
    job(photos[1], {})
    assert computed == ["max-patches", "max-patches"]  # ranked over the photo itself: once per photo


def test_stop_ends_a_grid_before_its_next_method_and_keeps_what_was_done():
    """The "explain" kind honours Stop between methods: the grid fails with "stopped", and the
    method computed before the Stop is served from the class-wide cache the next time."""
    import threading

    from workbench.jobs import explain as J
    from workbench.jobs.job import JobFailed

    arch = lookup.architecture("mnist-cnn")
    x, _ = model_inputs(arch, "pytorch", [samples.load("camera")], lookup.backend("pytorch").build(arch))
    args = {"backend": "pytorch", "arch": "mnist-cnn", "images": x, "methods": ["saliency", "grad-cam"]}
    stop, seen = threading.Event(), []

    def progress(event):
        seen.append(event["method"])
        stop.set()  # Stop pressed while the first method runs

    with pytest.raises(JobFailed, match="stopped by the user before grad-cam"):
        J.explain(args, progress, stop)
    assert seen == ["saliency"]
    methods = cache.shared("explanation-methods")
    hits = methods.hits
    result = J.explain(args, lambda event: None, threading.Event())
    assert methods.hits == hits + 1 and set(result["explanations"]) == {"saliency", "grad-cam"}


def test_the_class_matrix_kind_equals_grad_cam_of_each_class_here():
    """The class x image matrix as a job: the same maps as workbench.explain.cam.class_matrix on the
    same seeded model, and they differ between classes (each row is its own class's Grad-CAM)."""
    import threading

    from workbench.explain.cam import class_matrix
    from workbench.jobs import explain as J
    from workbench.jobs import payload

    backend, arch = lookup.backend("pytorch"), lookup.architecture("mnist-cnn")
    model = backend.build(arch)
    x, _ = model_inputs(arch, "pytorch", [samples.load("camera"), samples.load("coins")], model)
    result = J.class_matrix({"backend": "pytorch", "arch": "mnist-cnn", "images": x, "classes": [3, 7]},
                            lambda event: None, threading.Event())
    payload.pack(result)  # arrays only: it can travel
    expected = class_matrix(backend, model, x, [3, 7])
    assert result["maps"].shape == expected.shape == (2, 2) + expected.shape[2:]
    np.testing.assert_allclose(result["maps"], expected, atol=1e-5)
    assert not np.allclose(result["maps"][0], result["maps"][1])


def test_a_grid_the_server_has_computed_is_served_to_the_next_student_without_a_job(monkeypatch):
    """Once per server, not once per worker: the second student's identical request never reaches
    the queue and gets the same maps; another parameter is a new job."""
    from workbench.jobs.explain import QueuedExplanation

    queue = in_process(monkeypatch)
    cache.shared("explanations-served").clear()
    arch = lookup.architecture("mnist-cnn")
    x, _ = model_inputs(arch, "pytorch", [samples.load("coins")], lookup.backend("pytorch").build(arch))
    args = {"backend": "pytorch", "arch": "mnist-cnn", "images": x, "methods": ["saliency"], "steps": 10}
    first = QueuedExplanation(dict(args), owner="student 1", queue=queue).start()
    assert first.wait(120) and first.error is None
    second = QueuedExplanation(dict(args), owner="student 2", queue=queue).start()
    assert not second.running and second.error is None
    assert [j.owner for j in queue.jobs()] == ["student 1"]  # the second never queued
    np.testing.assert_array_equal(second.result["explanations"]["saliency"].maps,
                                  first.result["explanations"]["saliency"].maps)
    other = QueuedExplanation({**args, "steps": 5}, owner="student 2",  # other faithfulness steps
                              queue=queue).start()
    assert other.wait(120) and other.error is None and len(queue.jobs()) == 2
    assert cache.shared("explanations-served").stats()["hits"] == 1
    queue.close()
