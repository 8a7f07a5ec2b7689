"""The option system of every command: safe YAML and ``--force_yml`` (:mod:`~desra.config.options`), the keys each
command reads (:mod:`~desra.config.schema`), the folders and device a run uses (:mod:`~desra.config.layout`), the
checks made before anything is written (:mod:`~desra.config.preflight`) and the option templates and demo data
shipped in the package (:mod:`~desra.config.shipped`)."""
