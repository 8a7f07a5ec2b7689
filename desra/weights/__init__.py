"""Network weights: every checkpoint format SR users have (:mod:`~desra.weights.checkpoint`), Hugging Face hub ids
(:mod:`~desra.weights.hub`) and the offline conversion of Real-ESRGAN's official ncnn models
(:mod:`~desra.weights.ncnn`)."""
