"""Visual reports of detection and fine-tuning evaluation runs: static ``index.html`` pages with PNG pictures."""
from .charts import colour_scales_svg, threshold_plot_svg
from .figures import (CURVE_THRESHOLDS, below_threshold_curve, class_figures, class_name, pooled_curve,
                      total_class_figures)
from .html import (DEFAULT_ROWS_PER_PAGE, Comparison, Html, Panel, PartView, ReportRow, class_table, render_pages,
                   render_report, severity_fact, summary_table, write_report)
from .palette import ADE20K_PALETTE, colorize_labels
from .parts import SEVERITY_DEFINITION, ArtifactPart, crop_box, measure_parts, strength_map
from .views import (ReportPictures, contrast_heatmap, diff_position, difference_map, heat_colors, outline_mask,
                    part_crops, save_rgb, thumbnail, thumbnail_path, thumbnail_size, to_uint8, upscale_nearest)

__all__ = [
    'colour_scales_svg', 'threshold_plot_svg', 'CURVE_THRESHOLDS', 'below_threshold_curve', 'class_figures',
    'class_name', 'pooled_curve', 'total_class_figures', 'DEFAULT_ROWS_PER_PAGE', 'Comparison', 'Html', 'Panel',
    'PartView', 'ReportRow', 'class_table', 'render_pages', 'render_report', 'severity_fact', 'summary_table',
    'write_report', 'ADE20K_PALETTE', 'colorize_labels', 'SEVERITY_DEFINITION', 'ArtifactPart', 'crop_box',
    'measure_parts', 'strength_map', 'ReportPictures', 'contrast_heatmap', 'diff_position', 'difference_map',
    'heat_colors', 'outline_mask', 'part_crops', 'save_rgb', 'thumbnail', 'thumbnail_path', 'thumbnail_size',
    'to_uint8', 'upscale_nearest'
]
