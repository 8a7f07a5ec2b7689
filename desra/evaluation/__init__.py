"""Evaluation of a fine-tuned GAN-SR model on held-out images (the test command, ``desra/test.py``).

:class:`FinetuneEvalRun` super-resolves each held-out LR image with the original GAN, the fine-tuned GAN and the MSE
model, detects the artifacts of both GAN results (Stage 1) and scores what fine-tuning changed: artifact removal and
addition (:mod:`desra.metrics.finetune_metrics`) and whether the result is still as realistic as the original
(:mod:`desra.metrics.realism`).
"""
from desra.evaluation.finetune_eval import CSV_FIELDS, FinetuneEvalRun

__all__ = ['FinetuneEvalRun', 'CSV_FIELDS']
