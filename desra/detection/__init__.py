"""DeSRA Stage 1: detect the artifacts of GAN-SR images (Sec. 3.2 of the paper).

``ArtifactDetector(detector_opt, device).detect(mse_rgb255, gan_rgb255)`` runs the whole stage; its steps are
importable on their own: :func:`contrast_map` (Eq. 7), :func:`load_class_weights` and
:func:`semantic_weight_map` (Eq. 9), :func:`clean_mask` (morphology and area filter), :func:`build_segmenter`
(ADE20K SegFormer), and :func:`calibrate_class_intervals` to recompute the class weight table.
"""
from desra.detection.calibration import DistanceHistogram, calibrate_class_intervals
from desra.detection.contrast import contrast_map
from desra.detection.detector import DEFAULT_DETECTOR_OPT, ArtifactDetector, DetectionResult
from desra.detection.morphology import clean_mask, fill_holes, remove_small_parts
from desra.detection.segmenter import SegformerSegmenter, SegmenterWeightsError, build_segmenter
from desra.detection.semantic import load_class_weights, semantic_weight_map

__all__ = [
    'ArtifactDetector', 'DetectionResult', 'DEFAULT_DETECTOR_OPT', 'contrast_map', 'semantic_weight_map',
    'load_class_weights', 'clean_mask', 'fill_holes', 'remove_small_parts', 'build_segmenter',
    'SegformerSegmenter', 'SegmenterWeightsError', 'calibrate_class_intervals', 'DistanceHistogram'
]
