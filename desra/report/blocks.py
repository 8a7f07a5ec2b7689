"""Blocks of the report pages that the detect and test commands share: the area-vs-threshold plot, the per-class
table, the notes on the heat maps, the facts of an image's top classes and the views of its artifact parts."""
from desra.report.charts import threshold_plot_svg
from desra.report.figures import CURVE_THRESHOLDS, pooled_curve, total_class_figures
from desra.report.html import Comparison, PartView, class_table
from desra.report.views import ReportPictures

#: Title of the heat-map panels.
HEAT_TITLE = 'adjusted contrast (thresholded for the mask), mask outlined in white'
#: What the heat maps show, for the notes of a page.
HEAT_NOTE = ('Heat maps: the semantics-adjusted contrast of DeSRA (Eq. 9), the map the mask is thresholded on, with '
             'its colour bar under each map (red = low = the GAN-SR texture departs from the MSE-SR one; the black '
             'mark is the threshold); the final mask is outlined in white; the border of window_size // 2 pixels, '
             'where no contrast is computed, is black.')
#: Key and title of the texture-difference reduction of the evaluation's records (image scores, parts, summary),
#: shown when a record has it.
TEXTURE_KEY, TEXTURE_TITLE = 'texture_reduction', 'texture-difference reduction'


def top_classes_text(classes, count=3):
    """e.g. ``'sky 60 %, tree 30 %'``: the classes holding most of an image's artifact pixels, with their share."""
    total = sum(figure['artifact_pixels'] for figure in classes or ())
    top = sorted((figure for figure in classes or () if figure['artifact_pixels']), key=lambda f: -f['artifact_pixels'])
    return ', '.join(f'{figure["name"]} {100 * figure["artifact_pixels"] / total:.0f} %' for figure in top[:count])


def threshold_block(figure_sets, threshold):
    """The area-vs-threshold plot of the report's first page, or None when no record has the figures.

    Args:
        figure_sets (dict[str, list[dict]]): Curve label -> the mask figures (:func:`mask_figures` and
            :func:`map_figures`) of each image.
        threshold (float): The run's ``detector: threshold``.

    Returns:
        tuple[str, str] | None: (heading, HTML).
    """
    curves, marks = {}, {}
    for label, figures in figure_sets.items():
        figures = [figure for figure in figures if figure.get('below_threshold')]
        if figures:
            areas = [figure['height'] * figure['width'] for figure in figures]
            curves[label] = pooled_curve([figure['below_threshold'] for figure in figures], areas)
            marks[label] = sum(figure['artifact_pixels'] for figure in figures) / sum(areas)
    if not curves:
        return None
    note = ('Share of all pixels whose adjusted contrast is below each threshold, before the morphology and the '
            'min_area filter; the dot is the final masks\' area at the run\'s threshold (dashed). Use it to choose '
            'detector: threshold for a new model.')
    return ('Artifact area vs threshold', threshold_plot_svg(CURVE_THRESHOLDS, curves, threshold, marks)
            + f'<p class="legend-note">{note}</p>')


def class_block(figure_sets):
    """The artifact-area-per-class table of the report's first page (see :func:`threshold_block` for
    ``figure_sets``), or None without classes."""
    totals = [total_class_figures([figure['classes'] for figure in figures if figure.get('classes')])
              for figures in figure_sets.values()]
    table = class_table(totals, list(figure_sets))
    return ('Artifact area per class (ADE20K)', table) if table else None


def window_note(bbox, window):
    """How a part's crop window frames it (its record's ``bbox`` and ``crop_window``); '' without a window."""
    if not window:
        return ''
    (x, y, w, h), (x0, y0, x1, y1) = bbox, window
    side = x1 - x0
    if x0 <= x and y0 <= y and x + w <= x1 and y + h <= y1:
        return f'{side} x {side} px around the part'
    return f'the strongest {side} x {side} px of the part ({w} x {h} px, larger than that)'


def part_views(part_list, crop_titles, label='part', compare=None):
    """:class:`PartView` of the parts of a record that have crops.

    Args:
        part_list (list[dict]): Part records (:func:`part_records`).
        crop_titles (dict[str, str]): Title of each crop label, in display order (the first two on the part's
            card); labels a record lacks (the LR crop without LR image, ...) are left out.
        label (str): Parts are called ``'<label> 1'``, ``'<label> 2'``, ...
        compare (dict[str, str] | None): The crop labels and titles of the zoom's slider (left, then right), e.g.
            the plain crops ``{'before_plain': ..., 'after_plain': ...}``; no slider when a record lacks them.
    """
    views = []
    for index, part in enumerate(part_list, 1):
        if not part['crops']:
            continue
        window = part.get('crop_window')
        side = window[2] - window[0] if window else None

        def crop(key, title):
            return ReportPictures.crop_panel(title, part['crops'][key], side)

        crops = [crop(key, title) for key, title in crop_titles.items() if key in part['crops']]
        comparison = None
        if compare and all(key in part['crops'] for key in compare):
            comparison = Comparison('slider', *(crop(key, title) for key, title in compare.items()))
        facts = [('area', f'{part["area"]} px'), ('box x,y,w,h', ','.join(map(str, part['bbox'])))]
        if part.get(TEXTURE_KEY) is not None:
            facts.append((TEXTURE_TITLE, part[TEXTURE_KEY]))
        views.append(PartView(f'{label} {index}', part['severity'], facts, crops, part['strength'], part['share'],
                              comparison, window_note(part['bbox'], window)))
    return views
