"""The training command's run (``desra/train.py``): basicsr's builders and loggers in DeSRA's own loop
(:mod:`~desra.training.loop`), which saves and resumes the complete training state (:mod:`~desra.training.state`)."""
