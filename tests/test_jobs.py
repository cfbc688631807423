"""The job queue (workbench.jobs): a class of students submitting at once through worker processes
and through Ray started here, each getting exactly its own results, in round-robin order by owner;
faults (a job that raises, a worker killed mid-job, a cancelled job, a session that stops polling)
reported to their owner alone; the class-wide cache counted.

Oracles: each job's arguments (a tag and a value only its owner sent, a training run's own image
count and learning rate), the issue's definition of a round-robin violation computed from the
jobs' times, the worker's own pid, and scikit-learn's accuracy of the returned probabilities."""

import os
import signal
import time

import numpy as np
import pytest

from conftest import no_errors, require
from workbench.backend import TrainConfig
from workbench.jobs import cache, payload
from workbench.jobs.executors import LocalExecutor, RayExecutor, ThreadExecutor
from workbench.jobs.job import CANCELLED, DONE, FAILED, RUNNING
from workbench.jobs.queue import JobQueue, round_robin_violations
from workbench.jobs.train import QueuedRun
from workbench.runs import RunSpec

SHAPES = TrainConfig(epochs=2, batch_size=32, optimizer="adam", learning_rate=1e-3)


@pytest.fixture(scope="module")
def local():
    queue = JobQueue(LocalExecutor(slots=2), idle_timeout=900)
    yield queue
    queue.close()


@pytest.fixture(scope="module")
def ray_queue():
    ray = require("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    queue = JobQueue(RayExecutor(), idle_timeout=900)
    yield queue
    queue.close()
    ray.shutdown()


def wait_all(jobs, timeout=240):
    deadline = time.time() + timeout
    for job in jobs:
        assert job.wait(max(1, deadline - time.time())), f"{job.label} still {job.status}"


def a_class(queue, students=30, busy_jobs=10, **probe):
    """One busy student submits its jobs first, then 29 others press once each, all at once."""
    jobs = [queue.submit("probe", {"tag": f"busy/{k}", "value": 1000 + k, "steps": 1, **probe}, owner="busy",
                         label=f"busy/{k}") for k in range(busy_jobs)]
    jobs += [queue.submit("probe", {"tag": f"s{i}", "value": i, "steps": 1, **probe}, owner=f"s{i}", label=f"s{i}")
             for i in range(1, students)]
    return jobs


def check_class(queue, jobs):
    wait_all(jobs)
    assert [j.status for j in jobs] == [DONE] * len(jobs)
    for job in jobs:  # each owner gets exactly its own result
        assert job.result["tag"] == job.args["tag"] == job.label
        np.testing.assert_array_equal(job.result["values"], np.full(4, job.args["value"], np.float32))
    assert round_robin_violations(jobs) == 0
    ids = {j.id for j in jobs}
    order = [owner for _, job_id, owner in queue.starts if job_id in ids]
    # every student's first job starts before the busy student's second
    assert sorted(order[:30]) == sorted(["busy"] + [f"s{i}" for i in range(1, 30)])


# -- what travels -------------------------------------------------------------------------------
def test_payloads_are_json_and_safetensors_never_pickles():
    value = {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "files": {"m.json": b"{}"}, "n": [np.int64(3), None],
             "empty": np.zeros((0, 2), np.int64)}
    doc, blob = payload.pack(value)
    assert b"pickle" not in blob and blob[:8]  # safetensors: an 8-byte header length, then JSON
    back = payload.unpack(doc, blob)
    np.testing.assert_array_equal(back["x"], value["x"])
    assert back["files"] == {"m.json": b"{}"} and back["n"] == [3, None] and back["empty"].shape == (0, 2)
    with pytest.raises(TypeError, match="not object"):
        payload.pack({"model": object()})
    with pytest.raises(TypeError, match="object array"):
        payload.pack({"a": np.array([object()])})


# -- a class at once ----------------------------------------------------------------------------
def test_thirty_students_through_worker_processes(local):
    jobs = a_class(local)
    check_class(local, jobs)
    assert {j.worker for j in jobs} <= {f"pid {w['pid']}" for w in local.executor.workers()}
    assert os.getpid() not in {j.result["pid"] for j in jobs}  # not in this process


def test_thirty_students_through_ray(ray_queue):
    jobs = a_class(ray_queue)
    check_class(ray_queue, jobs)
    assert os.getpid() not in {j.result["pid"] for j in jobs}


def test_students_training_at_once_get_their_own_runs_and_curves(local):
    """Real training runs on `shapes` (PyTorch) in worker processes, each student's own size and
    rate: each gets its own model, curves and test numbers back, shown as queued while it waits."""
    done = {}
    runs = []
    for i, limit in enumerate((30, 60, 90)):
        spec = RunSpec("shapes", "mnist-cnn", "pytorch", TrainConfig(epochs=2, batch_size=30, learning_rate=10 ** -(i + 2)),
                       limit=limit)
        runs.append(QueuedRun(spec, f"student {i}", lambda run, i=i: done.setdefault(i, run), owner=f"t{i}",
                              queue=local).start())
    assert [r.position for r in runs] in ([1, 2, 3], [None, 1, 2], [None, None, 1])  # the third waits for a slot
    for run in runs:
        assert run.wait(300)
        assert run.running is False and run.error is None, run.error
    for i, run in enumerate(runs):
        assert done[i] is run.result and run.result.images == (30, 60, 90)[i]
        assert run.result.spec.config.learning_rate == 10 ** -(i + 2)
        assert [r["epoch"] for r in run.result.history] == [1, 2] and run.result.label == f"student {i}"
        # what the page's bar streamed is the run's own history
        assert [e["loss"] for e in run.job.events] == [r["loss"] for r in run.result.history]
        # the model came back: it predicts the test numbers the worker reported
        from workbench import lookup
        from workbench.jobs.train import prepared_once

        x, y = prepared_once(run.result.spec)[1].splits["test"]
        probs = lookup.backend("pytorch").predict(run.result.model, x)
        np.testing.assert_allclose(probs, run.result.test_probs, rtol=1e-4, atol=1e-5)
        assert run.result.test_accuracy == pytest.approx((probs.argmax(1) == y).mean())


# -- faults ---------------------------------------------------------------------------------------
def test_a_job_that_raises_is_reported_and_the_queue_goes_on(local):
    bad = local.submit("probe", {"steps": 2, "fail_at": 1, "message": "out of memory"}, owner="a")
    good = local.submit("probe", {"tag": "b", "steps": 1}, owner="b")
    wait_all([bad, good])
    assert bad.status == FAILED and bad.error == "out of memory" and bad.result is None
    assert good.status == DONE and good.result["tag"] == "b"


def test_a_failed_training_run_keeps_no_model(local):
    kept = []
    run = QueuedRun(RunSpec("shapes", "mnist-cnn", "pytorch", SHAPES, from_layer="no_such_layer", limit=30), "x",
                    kept.append, owner="f", queue=local).start()
    assert run.wait(300) and not run.running
    assert run.result is None and kept == [] and "no_such_layer" in str(run.error)


def kill_mid_job(queue):
    victim = queue.submit("probe", {"steps": 200, "seconds": 0.05, "tag": "victim"}, owner="victim")
    deadline = time.time() + 120
    while not (victim.events and victim.events[-1]["step"] >= 2) and time.time() < deadline:
        time.sleep(0.05)
    pid = victim.events[-1]["pid"]
    assert victim.status == RUNNING and pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    others = [queue.submit("probe", {"tag": f"o{i}", "steps": 1}, owner=f"o{i}") for i in range(3)]
    wait_all([victim] + others)
    assert victim.status == FAILED and "worker stopped" in victim.error and victim.result is None
    assert [o.result["tag"] for o in others] == ["o0", "o1", "o2"]  # nobody else lost anything


def test_a_worker_process_killed_mid_job(local):
    kill_mid_job(local)


def test_a_ray_worker_killed_mid_job(ray_queue):
    kill_mid_job(ray_queue)


def test_cancelling_a_waiting_and_a_running_job(local):
    running = local.submit("probe", {"steps": 400, "seconds": 0.05}, owner="c")
    waiting = local.submit("probe", {"steps": 1}, owner="c")  # one running job per student: it waits
    while not running.events:
        time.sleep(0.02)
    assert local.position(waiting) == 1
    local.cancel(waiting, "not wanted")
    local.cancel(running, "not wanted either")
    wait_all([running, waiting], 60)
    assert (waiting.status, waiting.error, waiting.started) == (CANCELLED, "not wanted", None)
    assert (running.status, running.result) == (CANCELLED, None) and running.events[-1]["step"] < 400


def test_stop_hands_on_what_was_done_so_far(local):
    job = local.submit("probe", {"steps": 400, "seconds": 0.05, "tag": "s"}, owner="stopper")
    while not (job.events and job.events[-1]["step"] >= 2):
        time.sleep(0.02)
    local.stop(job)
    wait_all([job], 60)
    assert job.status == DONE and job.result["stopped"] and 2 <= job.result["steps"] < 400


def test_a_session_that_stops_polling_has_its_jobs_cancelled():
    queue = JobQueue(ThreadExecutor(slots=2), idle_timeout=0.5)
    try:
        gone = queue.submit("probe", {"steps": 400, "seconds": 0.05}, owner="closed-tab")
        queued = queue.submit("probe", {"steps": 1}, owner="closed-tab")
        alive = queue.submit("probe", {"steps": 30, "seconds": 0.05, "tag": "here"}, owner="open-tab")
        while not alive.ended:
            queue.touch("open-tab")  # what a page's poll does
            time.sleep(0.1)
        wait_all([gone, queued], 30)
        assert gone.status == queued.status == CANCELLED and "stopped asking" in gone.error
        assert alive.status == DONE and alive.result["tag"] == "here"
    finally:
        queue.close()


# -- work done once ---------------------------------------------------------------------------
def test_the_class_cache_counts_hits_and_tells_parameters_apart():
    shared = cache.ClassCache("test", maxsize=2)
    calls = []
    image = np.random.default_rng(0).random((8, 8, 3), dtype=np.float32)

    def explain(window):
        calls.append(window)
        return {"window": window}

    first = shared.get(cache.key("model", image, {"window": 4}), lambda: explain(4))
    again = shared.get(cache.key("model", image.copy(), {"window": 4}), lambda: explain(4))
    other = shared.get(cache.key("model", image, {"window": 8}), lambda: explain(8))
    assert again is first and other == {"window": 8} and calls == [4, 8]
    assert (shared.hits, shared.misses) == (1, 2)
    shared.get(cache.key("model", image + 1, {"window": 4}), lambda: explain(4))  # another image
    assert calls == [4, 8, 4] and shared.stats()["entries"] == 2  # bounded: the oldest went


def test_a_second_student_asking_the_same_explanation_is_served_from_the_cache(lesson_app, monkeypatch):
    from workbench.jobs import queue as Q

    # the grid is a job: its class-wide cache is the worker's, here a thread of this process
    monkeypatch.setattr(Q, "_SERVER", JobQueue(ThreadExecutor(slots=1)))
    cache.shared("explanations").clear()

    def explain(seed_methods):
        at = lesson_app("explanations")
        at.selectbox(key="ex_model").set_value("mnist-cnn").run()
        at.selectbox(key="ex_backend").set_value("pytorch").run()
        at.multiselect(key="ex_samples").set_value(["coffee"]).run()
        at.multiselect(key="ex_methods").set_value(seed_methods).run()
        at.button(key="ex_run").click().run()
        assert no_errors(at) == []
        return at

    served = cache.shared("explanations-served")
    first = explain(["saliency"])
    assert cache.shared("explanations").stats()["misses"] == 1 and served.stats()["misses"] == 1
    second = explain(["saliency"])  # another session, the same model, image and parameters
    assert served.stats()["hits"] == 1 and len(Q.server_queue().jobs()) == 1  # from the server's cache, no job
    assert [c.value for c in second.caption] == [c.value for c in first.caption]
    explain(["grad-cam"])  # another method: computed
    assert cache.shared("explanations").stats()["misses"] == 2 and len(Q.server_queue().jobs()) == 2


# -- the whole class, for real (slow) ---------------------------------------------------------------
@pytest.mark.slow  # 30 training runs on 2 cores per executor: a minute or two each
@pytest.mark.parametrize("fixture", ["local", "ray_queue"])
def test_thirty_students_train_at_once(fixture, request):
    queue = request.getfixturevalue(fixture)
    runs = []
    for i in range(30):
        spec = RunSpec("shapes", "mnist-cnn", "pytorch", TrainConfig(epochs=1 + i % 2, batch_size=30, seed=i),
                       limit=30 + 3 * i)
        runs.append(QueuedRun(spec, f"student {i}", owner=f"student {i}", queue=queue).start())
    for run in runs:
        assert run.wait(900) and not run.running and run.error is None, run.error
    for i, run in enumerate(runs):  # each student's own run: its size, seed, epochs and curves
        assert run.result.label == f"student {i}" and run.result.images == 30 + 3 * i
        assert run.result.spec.config.seed == i and len(run.result.history) == 1 + i % 2
        assert [e["loss"] for e in run.job.events] == [r["loss"] for r in run.result.history]
    assert round_robin_violations([r.job for r in runs]) == 0


def test_an_explanation_grid_as_a_job_equals_the_same_grid_here(local):
    """The "explain" kind in a worker process: the same maps and scores as run_methods in this
    process on the same (seeded) model and images."""
    from workbench import lookup
    from workbench.explain.compare import run_methods

    images = np.random.default_rng(1).random((2, 28, 28, 1), dtype=np.float32)
    job = local.submit("explain", {"backend": "pytorch", "arch": "mnist-cnn", "images": images,
                                   "methods": ["saliency", "grad-cam"], "steps": 2}, owner="e")
    backend = lookup.backend("pytorch")
    here = run_methods(backend, backend.build(lookup.architecture("mnist-cnn")), images, ["saliency", "grad-cam"],
                       steps=2)
    wait_all([job], 300)
    assert job.status == DONE, job.error
    assert [e["method"] for e in job.events[:2]] == ["saliency", "grad-cam"]
    assert job.result["targets"] == here["targets"]
    for name in ("saliency", "grad-cam"):
        np.testing.assert_allclose(job.result["explanations"][name]["maps"], here["explanations"][name].maps,
                                   rtol=1e-4, atol=1e-6)
        assert job.result["scores"][name]["deletion_auc"] == pytest.approx(here["scores"][name]["deletion_auc"],
                                                                           abs=1e-5)


def test_the_training_page_shows_its_place_in_the_queue(lesson_app, monkeypatch):
    """One worker, busy with another student's job: Train waits as "queued, position 1", then runs."""
    from workbench.jobs import queue as Q
    from workbench_pages.training import _status

    queue = Q.JobQueue(ThreadExecutor(slots=1))
    monkeypatch.setattr(Q, "_SERVER", queue)
    other = queue.submit("probe", {"steps": 600, "seconds": 0.05}, owner="another student")
    at = lesson_app("training")
    at.selectbox(key="tr_dataset").set_value("shapes").run()
    at.selectbox(key="tr_backend").set_value("pytorch").run()
    at.number_input(key="tr_limit").set_value(30).run()
    at.button(key="tr_train").click()
    with pytest.raises(RuntimeError, match="timed out"):  # the script run follows the job until it ends
        at.run(timeout=3)
    live = at.session_state["training_live"]
    assert (live.status, live.position) == ("queued", 1) and other.status == RUNNING
    assert _status(live, [], 1, 2.0).startswith("queued, position 1")
    queue.stop(other)
    at.run()
    assert no_errors(at) == [] and live.status == DONE and other.status == DONE
    (run,) = at.session_state["training_runs"]
    assert run is live.result and run.images == 30
    queue.close()


def test_the_instructors_view_lists_the_queue_students_and_workers(tmp_path, monkeypatch, capsys):
    import json

    from workbench import cli
    from workbench.jobs.queue import status_dir

    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path))
    queue = JobQueue(ThreadExecutor(slots=1), status_file=status_dir() / f"{os.getpid()}.json")
    try:
        running = queue.submit("probe", {"steps": 600, "seconds": 0.05}, owner="ann", label="ann's run")
        waiting = [queue.submit("probe", {"steps": 1}, owner=o, label=f"{o}'s run") for o in ("bob", "ann", "cy")]
        deadline = time.time() + 30
        while not (status_dir() / f"{os.getpid()}.json").exists() or running.status != RUNNING:
            assert time.time() < deadline
            time.sleep(0.1)
        time.sleep(1.2)  # the file is rewritten every second
        assert cli.main(["jobs", "--json"]) == 0
        (server,) = json.loads(capsys.readouterr().out)["servers"]
        assert [j["label"] for j in server["running"]] == ["ann's run"]
        # round robin: bob and cy before ann's second
        assert [(j["label"], j["position"]) for j in server["queue"]] == [("bob's run", 1), ("cy's run", 2),
                                                                         ("ann's run", 3)]
        assert server["students"]["ann"] == [running.id, waiting[1].id] and server["resources"]["cpus"] == 1
        assert server["workers"][0]["pid"] == os.getpid() and server["executor"] == "thread"
    finally:
        queue.close()
    assert not (status_dir() / f"{os.getpid()}.json").exists()


def test_a_session_keeps_its_last_runs_only():
    from workbench.jobs import limits

    runs = []
    for k in range(5):
        limits.keep(runs, k, limit=3)
    assert runs == [2, 3, 4]
