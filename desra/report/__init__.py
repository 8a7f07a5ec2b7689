"""Visual reports of detection and fine-tuning evaluation runs: static ``index.html`` pages with PNG pictures."""
from .html import Panel, PartView, ReportRow, render_report, write_report
from .palette import ADE20K_PALETTE, colorize_labels
from .parts import SEVERITY_DEFINITION, ArtifactPart, crop_box, measure_parts, strength_map
from .views import ReportPictures, contrast_heatmap, outline_mask, save_rgb, to_uint8, upscale_nearest, write_part_crops

__all__ = [
    'Panel', 'PartView', 'ReportRow', 'render_report', 'write_report', 'ADE20K_PALETTE', 'colorize_labels',
    'SEVERITY_DEFINITION', 'ArtifactPart', 'crop_box', 'measure_parts', 'strength_map', 'contrast_heatmap',
    'outline_mask', 'ReportPictures', 'save_rgb', 'to_uint8', 'upscale_nearest', 'write_part_crops'
]
