"""Files as DeSRA reads and writes them: images (:mod:`~desra.io.images`), how images are named across folders
(:mod:`~desra.io.names`), the records and tables written beside outputs (:mod:`~desra.io.records`) and how paths
relate (:mod:`~desra.io.paths`). Nothing here imports another part of DeSRA."""
