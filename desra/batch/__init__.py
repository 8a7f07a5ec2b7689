"""The batch runtime of the commands that work image by image (detect, build_dataset, test): the per-image loop
with its failures and ranks (:mod:`~desra.batch.run`, :mod:`~desra.batch.failures`), the run's log
(:mod:`~desra.batch.logs`), overlapped reading and writing (:mod:`~desra.batch.pipeline`) and progress bars
(:mod:`~desra.batch.progress`)."""
