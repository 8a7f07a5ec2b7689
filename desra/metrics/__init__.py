"""Metrics for DeSRA: artifact detection against human-labelled masks, and what fine-tuning changed."""
from .detection_metrics import (DEFAULT_BORDER, DEFAULT_OVERLAP, DetectionScores, MaskAgreement, MaskPairScore,
                                MaskShapeError, count_overlapped_parts, crop_to_valid_region, folder_mask_agreement,
                                format_score, load_mask, mask_agreement, mask_iou, score_mask_pair, summarize_scores,
                                to_binary_mask)
from .finetune_metrics import (TEXTURE_FIELDS, FinetuneImageScore, addition_rate, count_parts, psnr_outside,
                               removal_rate, score_finetune, ssim_map, ssim_outside, summarize_finetune,
                               texture_difference, texture_reduction)
from .realism import (NIQE_BLOCK, REALISM_DEFAULTS, REALISM_FIELDS, VERDICTS, laplacian_detail, niqe_score,
                      realism_options, realism_verdict, score_realism, summarize_realism)
