"""Jobs: long work (training runs, experiments, explanation grids) owned by a student's session,
queued fairly, run in worker processes or on a Ray cluster, polled by the pages.

- ``job``: a Job, its Resources and statuses;
- ``kinds``: job kinds by name and what a worker runs;
- ``payload``: what crosses to and from a worker (JSON and safetensors bytes, no pickles);
- ``executors``: local worker processes, Ray, threads;
- ``queue``: the fair queue and the server's one queue;
- ``train``: the training run as a job, and the QueuedRun a page follows;
- ``explain``: an explanation grid as a job;
- ``cache``: work done once for the whole class;
- ``limits``: what one session may keep.
"""
