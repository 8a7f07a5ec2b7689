"""The evaluation's headline figures as a person reads them: the block ``desra/test.py`` prints at its end (and the
demo after it), from ``finetune_eval.json``'s ``summary`` and ``images``."""
#: Removal rate at or below which an evaluation says that nothing was removed.
NOTHING_REMOVED = 0.0


def figure(value, digits=3):
    """A figure of ``finetune_eval.json`` as text, where an undefined value (None, JSON ``null``) is ``n/a``."""
    return 'n/a' if value is None else f'{value:.{digits}f}'


def removal_warning(summary):
    """A sentence when the removal figures say that fine-tuning did not do its job (None otherwise): the original
    model had no detected artifact on these images (nothing to remove), or none of them was removed."""
    if not summary.get('before_pixels'):
        return 'the original GAN has no detected artifact on these images: there was nothing to remove'
    removal = summary.get('removal_rate')
    if removal is not None and removal <= NOTHING_REMOVED:
        return ('nothing was removed: every artifact pixel of the original is still detected after fine-tuning '
                '(is network_finetuned the fine-tuned checkpoint?)')
    return None


def summary_text(summary, images):
    """The headline figures of an evaluation (``summary`` and the per-image ``images`` of ``finetune_eval.json``).

    Returns:
        str: Lines of text: artifact area and parts before -> after, removal rate, texture-difference reduction,
        addition rate, PSNR / SSIM outside the artifacts, NIQE of the three models, detail retention, the realism
        verdict (with a warning first when nothing was removed, :func:`removal_warning`) and one line per image.
    """
    lines = [f'Held-out images ({summary["images"]}), before -> after fine-tuning:',
             f'  artifact area      {summary["before_pixels"]} px ({figure(summary["before_percent"], 2)}%) -> '
             f'{summary["after_pixels"]} px ({figure(summary["after_percent"], 2)}%)',
             f'  artifact parts     {summary["before_parts"]} -> {summary["after_parts"]}',
             f'  removal rate       {figure(summary["removal_rate"])}  (share of the before-mask gone after)',
             f'  texture reduction  {figure(summary.get("texture_reduction"))}  (1 - mean D after / mean D before '
             'inside the before-mask, D = 1 - c; 1 = the MSE model\'s texture)',
             f'  addition rate      {figure(summary["addition_rate"])}  (new artifact pixels / before-mask pixels)',
             f'  outside artifacts  PSNR {figure(summary["mean_psnr_outside"], 2)} dB, '
             f'SSIM {figure(summary["mean_ssim_outside"])}  (original vs fine-tuned, pixels outside both masks)',
             f'  NIQE               GAN {figure(summary["mean_niqe_gan"], 2)} / MSE '
             f'{figure(summary["mean_niqe_mse"], 2)} / fine-tuned {figure(summary["mean_niqe_finetuned"], 2)}  '
             '(means; lower = more natural)',
             f'  detail retention   mean {figure(summary["mean_detail_retention"])}, min '
             f'{figure(summary["min_detail_retention"])}  (fine-tuned / original GAN detail outside the artifacts; '
             f'MSE model: {figure(summary["mean_mse_detail_retention"])})']
    warning = removal_warning(summary)
    realism = summary['realism'] if warning is None else f'{summary["realism"]}, but {warning}'
    lines += [f'  realism            {realism}',
              '  per image          removal, texture reduction, detail retention (MSE model\'s), NIQE GAN / MSE / '
              'fine-tuned, verdict:']
    width = max((len(image['image']) for image in images), default=0)
    for image in images:
        lines.append(f'    {image["image"]:<{width}}  {figure(image.get("removal_rate"))}, '
                     f'{figure(image.get("texture_reduction"))}, {figure(image.get("detail_retention"))} '
                     f'({figure(image.get("mse_detail_retention"))}), {figure(image.get("niqe_gan"), 2)} / '
                     f'{figure(image.get("niqe_mse"), 2)} / {figure(image.get("niqe_finetuned"), 2)}, '
                     f'{image.get("realism", "n/a")}')
    return '\n'.join(lines)
