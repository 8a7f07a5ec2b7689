"""SegFormer segmentation for the semantic-aware adjustment, offline, with tiny randomly initialised models.

Nothing here downloads: transformers models are written with ``save_pretrained`` into a temporary folder, mmseg
checkpoints are made from a tiny model through the inverse key mapping.
"""
import cv2
import huggingface_hub
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import SegformerConfig, SegformerForSemanticSegmentation

import desra  # noqa: F401  (basicsr shim)
from desra.detection import ArtifactDetector, SegmenterWeightsError, build_segmenter, load_class_weights
from desra.detection.mmseg_segformer import (MMSegSegformer, hf_to_mmseg_state_dict, mmseg_segformer_config,
                                             mmseg_to_hf_state_dict)
from desra.detection.segmenter import (DEFAULT_SEGFORMER_MODEL, DESRA_RELEASE_URL, autocast_dtype, keep_ratio_size,
                                       logits_to_labels)

MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])
SMALL_SCALE = (160, 96)  # test scale for speed: 60x100 images run at 96x160


def tiny_config(num_labels=150, **kwargs):
    return SegformerConfig(hidden_sizes=[8, 16, 24, 32], depths=[1, 2, 1, 1], num_attention_heads=[1, 2, 3, 4],
                           decoder_hidden_size=16, num_labels=num_labels, **kwargs)


def randomise(model, seed=0):
    """Spread the weights so that many classes win somewhere; 1-D tensors (norm scales, biases, BatchNorm
    statistics) in [0.5, 1.5] so that variances stay positive."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.dtype.is_floating_point:
                shape = tensor.shape
                tensor.copy_(torch.rand(shape, generator=generator) + 0.5 if tensor.ndim == 1 else
                             torch.randn(shape, generator=generator) * 0.3)
    return model.eval()


@pytest.fixture(scope='module')
def hf_model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp('segformer_tiny')
    randomise(SegformerForSemanticSegmentation(tiny_config())).save_pretrained(folder)
    return folder


@pytest.fixture(scope='module')
def image():
    rng = np.random.default_rng(0)
    return cv2.resize(rng.uniform(0, 255, (12, 20, 3)), (100, 60), interpolation=cv2.INTER_CUBIC).clip(0, 255)


def expected_labels(model, rgb255, scale=(2048, 640)):
    """mmseg's test pipeline written out: keep-ratio resize, normalise, logits, full upsampling, argmax."""
    height, width = rgb255.shape[:2]
    resized = cv2.resize(rgb255.astype(np.float32), keep_ratio_size(height, width, scale),
                         interpolation=cv2.INTER_LINEAR)
    pixels = torch.from_numpy(((resized - MEAN) / STD).astype(np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        logits = model(pixel_values=pixels).logits
    return F.interpolate(logits, size=(height, width), mode='bilinear', align_corners=False)[0].argmax(0).numpy()


def test_keep_ratio_size_follows_mmseg():
    assert keep_ratio_size(1080, 1920) == (1138, 640)  # short side bound: 640 / 1080
    assert keep_ratio_size(100, 50) == (640, 1280)  # small images are enlarged
    assert keep_ratio_size(400, 3000) == (2048, 273)  # long side bound: 2048 / 3000
    assert keep_ratio_size(60, 100, scale=(200, 40)) == (67, 40)


def test_segformer_labels_follow_the_test_pipeline(hf_model_dir, image):
    segmenter = build_segmenter({'type': 'segformer', 'model_path': str(hf_model_dir), 'scale': SMALL_SCALE}, 'cpu')
    labels = segmenter(image)
    assert labels.shape == (60, 100) and labels.dtype == np.int32
    assert len(np.unique(labels)) > 1  # the check below is not about a constant map
    model = SegformerForSemanticSegmentation.from_pretrained(hf_model_dir, local_files_only=True).eval()
    np.testing.assert_array_equal(labels, expected_labels(model, image, SMALL_SCALE))


def test_autocast_runs_the_forward_pass_in_its_dtype_and_keeps_the_labels(hf_model_dir, image):
    """``auto`` is float32 on the CPU (fp16 on CUDA); ``fp16`` and ``bf16`` autocast on any device, and label the
    pixels as float32 does except near ties between classes. A tiny random model has many near ties, and bf16 keeps
    8 bits of mantissa to fp16's 11, hence the lower bound for bf16."""
    def segment(autocast):
        opt = {'type': 'segformer', 'model_path': str(hf_model_dir), 'scale': SMALL_SCALE, 'autocast': autocast}
        segmenter = build_segmenter(opt, 'cpu')
        logits_dtypes = []
        segmenter.model.register_forward_hook(lambda module, inputs, logits: logits_dtypes.append(logits.dtype))
        return segmenter(image), logits_dtypes

    fp32_labels, dtypes = segment('auto')
    assert dtypes == [torch.float32] and len(np.unique(fp32_labels)) > 1
    assert autocast_dtype('auto', 'cuda') == torch.float16 and autocast_dtype(False, 'cuda') is None
    for autocast, dtype, agreement in (('fp16', torch.float16, 0.95), ('bf16', torch.bfloat16, 0.8)):
        labels, dtypes = segment(autocast)
        assert dtypes == [dtype]
        assert labels.dtype == np.int32 and (labels == fp32_labels).mean() >= agreement
    with pytest.raises(ValueError, match="autocast must be auto, fp16, bf16 or false, got 'fp32'"):
        segment('fp32')


def test_chunked_argmax_matches_argmax():
    logits = torch.randn(1, 150, 7, 9)
    logits[0, 20:40] = logits[0, 3]  # ties between chunks go to the lower class, as argmax
    full = F.interpolate(logits, size=(30, 40), mode='bilinear', align_corners=False)[0].argmax(0)
    np.testing.assert_array_equal(logits_to_labels(logits, (30, 40)).numpy(), full.numpy())


def test_detector_weights_follow_the_labels_by_index(tmp_path, image):
    model = randomise(SegformerForSemanticSegmentation(
        tiny_config(id2label={i: f'thing {149 - i}' for i in range(150)})))  # names unlike ADE20K's
    model.save_pretrained(tmp_path)
    detector = ArtifactDetector({'segmenter': {'model_path': str(tmp_path), 'scale': SMALL_SCALE}, 'min_area': 10})
    result = detector.detect(image, np.clip(image + 30 * np.sin(np.arange(100))[:, None], 0, 255))
    assert result.labels.shape == (60, 100)
    np.testing.assert_array_equal(result.weights, load_class_weights()[result.labels[5:-5, 5:-5]])
    np.testing.assert_array_equal(result.adjusted, np.clip(result.contrast * result.weights, 0, 1))


def test_segmenter_needs_the_150_ade20k_classes(tmp_path):
    randomise(SegformerForSemanticSegmentation(tiny_config(num_labels=19))).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match='19 classes.*150 ADE20K'):
        build_segmenter({'model_path': str(tmp_path)})


@pytest.mark.parametrize('model_path', [DEFAULT_SEGFORMER_MODEL, 'no/such-model', 'missing_folder/segformer.pth'])
def test_missing_weights_fail_at_construction_with_directions(model_path):
    with pytest.raises(SegmenterWeightsError) as error:
        ArtifactDetector({'segmenter': {'type': 'segformer', 'model_path': model_path}})
    message = str(error.value)
    for hint in (model_path, f'hf download {DEFAULT_SEGFORMER_MODEL}', DESRA_RELEASE_URL,
                 'type: none'):
        assert hint in message


def test_segmenter_options_are_checked():
    assert build_segmenter({'type': 'none'}) is None
    with pytest.raises(ValueError, match='segmenter type "deeplab"'):
        build_segmenter({'type': 'deeplab'})
    with pytest.raises(ValueError, match=r"unknown segmenter option\(s\) \['modelpath'\]"):
        build_segmenter({'type': 'segformer', 'modelpath': 'x'})


@pytest.fixture(scope='module')
def mmseg_model():
    return randomise(MMSegSegformer(tiny_config(), decoder_channels=12), seed=1)


def mmseg_reference_logits(state_dict, pixels, num_heads, strides=(4, 2, 2, 2)):
    """mmseg's MixVisionTransformer + SegformerHead forward, written from mmseg's source on its own keys.

    Attention is ``nn.MultiheadAttention``, as in mmseg, fed with ``in_proj_weight`` (rows q; k; v).
    """
    sd = state_dict
    x, features = pixels, []
    for i, heads in enumerate(num_heads):
        p = f'backbone.layers.{i}.'
        weight = sd[p + '0.projection.weight']
        x = F.conv2d(x, weight, sd[p + '0.projection.bias'], stride=strides[i], padding=weight.shape[-1] // 2)
        n, c, h, w = x.shape

        def norm(t, key):
            return F.layer_norm(t, (c, ), sd[key + '.weight'], sd[key + '.bias'], eps=1e-6)

        x = norm(x.flatten(2).transpose(1, 2), p + '0.norm')
        depth = len({k.split('.')[4] for k in sd if k.startswith(p + '1.')})
        for j in range(depth):
            q = f'{p}1.{j}.'
            h1 = norm(x, q + 'norm1')
            kv = h1
            if q + 'attn.sr.weight' in sd:
                kv = F.conv2d(h1.transpose(1, 2).reshape(n, c, h, w), sd[q + 'attn.sr.weight'], sd[q + 'attn.sr.bias'],
                              stride=sd[q + 'attn.sr.weight'].shape[-1])
                kv = norm(kv.flatten(2).transpose(1, 2), q + 'attn.norm')
            attention = nn.MultiheadAttention(c, heads, batch_first=True, dtype=x.dtype)
            attention.load_state_dict({k[len(q + 'attn.attn.'):]: v for k, v in sd.items()
                                       if k.startswith(q + 'attn.attn.')})
            x = x + attention.eval()(h1, kv, kv, need_weights=False)[0]
            ffn = norm(x, q + 'norm2').transpose(1, 2).reshape(n, c, h, w)
            ffn = F.conv2d(ffn, sd[q + 'ffn.layers.0.weight'], sd[q + 'ffn.layers.0.bias'])
            ffn = F.conv2d(ffn, sd[q + 'ffn.layers.1.weight'], sd[q + 'ffn.layers.1.bias'], padding=1,
                           groups=ffn.shape[1])
            ffn = F.conv2d(F.gelu(ffn), sd[q + 'ffn.layers.4.weight'], sd[q + 'ffn.layers.4.bias'])
            x = x + ffn.flatten(2).transpose(1, 2)
        x = norm(x, p + '2').transpose(1, 2).reshape(n, c, h, w)
        features.append(x)

    def conv_bn_relu(t, key):
        t = F.conv2d(t, sd[key + '.conv.weight'])
        t = F.batch_norm(t, sd[key + '.bn.running_mean'], sd[key + '.bn.running_var'], sd[key + '.bn.weight'],
                         sd[key + '.bn.bias'], eps=1e-5)
        return F.relu(t)

    size = features[0].shape[2:]
    outs = [F.interpolate(conv_bn_relu(f, f'decode_head.convs.{i}'), size=size, mode='bilinear', align_corners=False)
            for i, f in enumerate(features)]
    fused = conv_bn_relu(torch.cat(outs, dim=1), 'decode_head.fusion_conv')
    return F.conv2d(fused, sd['decode_head.conv_seg.weight'], sd['decode_head.conv_seg.bias'])


def test_mmseg_keys_round_trip(mmseg_model):
    state = mmseg_model.state_dict()
    mmseg_state = hf_to_mmseg_state_dict(state)
    for key in ('backbone.layers.0.0.projection.weight', 'backbone.layers.1.1.1.attn.attn.in_proj_weight',
                'backbone.layers.0.1.0.attn.sr.weight', 'backbone.layers.3.1.0.ffn.layers.4.weight',
                'backbone.layers.3.2.bias', 'decode_head.convs.0.conv.weight',
                'decode_head.fusion_conv.bn.running_var', 'decode_head.conv_seg.weight'):
        assert key in mmseg_state
    assert mmseg_state['backbone.layers.1.1.1.attn.attn.in_proj_weight'].shape == (48, 16)
    assert mmseg_state['backbone.layers.3.1.0.ffn.layers.4.weight'].shape == (32, 128, 1, 1)
    back = mmseg_to_hf_state_dict(mmseg_state)
    assert back.keys() == state.keys()
    assert all(torch.equal(back[key], value) for key, value in state.items())
    config, channels = mmseg_segformer_config(mmseg_state)
    assert (config.hidden_sizes, config.depths, config.num_attention_heads, config.sr_ratios, channels) == \
        ([8, 16, 24, 32], [1, 2, 1, 1], [1, 2, 3, 4], [8, 4, 2, 1], 12)


def test_mmseg_model_computes_what_mmseg_computes(mmseg_model):
    mmseg_state = hf_to_mmseg_state_dict(mmseg_model.state_dict())
    pixels = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        expected = mmseg_reference_logits(mmseg_state, pixels, num_heads=[1, 2, 3, 4])
        torch.testing.assert_close(mmseg_model(pixels), expected, rtol=0, atol=1e-4)
    # mmseg's LayerNorm epsilon, too small an effect for float32 logits to show
    layer_norms = [m for m in mmseg_model.modules() if isinstance(m, nn.LayerNorm)]
    assert len(layer_norms) == 22  # 4 patch embeddings, 4 stage ends, 2 in each of 5 blocks, 4 key/value reductions
    assert all(m.eps == 1e-6 for m in layer_norms)


def test_mmseg_checkpoint_loads_with_identical_logits(tmp_path, mmseg_model, image):
    path = tmp_path / 'segformer_mit-tiny_ade20k.pth'
    torch.save({'meta': {'CLASSES': ('wall', 'building'), 'PALETTE': [[120, 120, 120]]},
                'state_dict': hf_to_mmseg_state_dict(mmseg_model.state_dict())}, path)
    segmenter = build_segmenter({'type': 'segformer', 'model_path': str(path), 'scale': SMALL_SCALE})
    pixels = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(segmenter.model(pixels), mmseg_model(pixels))
    labels = segmenter(image)
    assert labels.shape == (60, 100) and len(np.unique(labels)) > 1


def test_mmseg_conversion_rejects_other_checkpoints():
    with pytest.raises(ValueError, match='unknown keys.*backbone.conv_first.weight'):
        mmseg_to_hf_state_dict({'backbone.conv_first.weight': torch.zeros(1)})


def cache_tiny_segformer(hub_cache, monkeypatch):
    """A random tiny SegFormer as ``someone/segformer-tiny`` (main at ``abc123``) in the Hugging Face cache
    ``hub_cache``, which huggingface_hub is pointed at; returns its snapshot folder."""
    snapshot = hub_cache / 'models--someone--segformer-tiny' / 'snapshots' / 'abc123'
    randomise(SegformerForSemanticSegmentation(tiny_config())).save_pretrained(snapshot)
    (snapshot.parents[1] / 'refs').mkdir()
    (snapshot.parents[1] / 'refs' / 'main').write_text('abc123')
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_CACHE', str(hub_cache))
    return snapshot


def test_hub_id_loads_from_the_local_cache(tmp_path, monkeypatch, image):
    snapshot = cache_tiny_segformer(tmp_path / 'hub', monkeypatch)
    segmenter = build_segmenter({'model_path': 'someone/segformer-tiny', 'scale': SMALL_SCALE})
    model = SegformerForSemanticSegmentation.from_pretrained(snapshot, local_files_only=True).eval()
    np.testing.assert_array_equal(segmenter(image), expected_labels(model, image, SMALL_SCALE))


def test_hf_scheme_repository_loads_offline_from_the_cache(tmp_path, monkeypatch, image):
    """``model_path: hf://owner/repo`` (a whole repository) is the cached snapshot under ``HF_HUB_OFFLINE``."""
    snapshot = cache_tiny_segformer(tmp_path / 'hub', monkeypatch)
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', True)
    segmenter = build_segmenter({'model_path': 'hf://someone/segformer-tiny', 'scale': SMALL_SCALE})
    model = SegformerForSemanticSegmentation.from_pretrained(snapshot, local_files_only=True).eval()
    np.testing.assert_array_equal(segmenter(image), expected_labels(model, image, SMALL_SCALE))
    with pytest.raises(FileNotFoundError, match='hf download someone/other'):
        build_segmenter({'model_path': 'hf://someone/other', 'scale': SMALL_SCALE})
