"""What the dynamic mixers share: extra passes through the classifier.

An extra pass must leave the classifier as it found it: no BatchNorm running
statistics updated by it and no gradients accumulated on parameters.
:func:`eval_mode` runs a pass in eval mode (running statistics are read, not
written) and restores every module's own ``training`` flag afterwards;
input saliency is taken with ``torch.autograd.grad`` w.r.t. the inputs only,
so no parameter ``.grad`` is touched.
"""
from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F


@contextmanager
def eval_mode(model: nn.Module):
    """Put ``model`` in eval mode for the block, then give every submodule
    back its own ``training`` flag (so per-module choices such as ResNet's
    ``norm_eval`` or frozen stages survive)."""
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in flags:
            module.training = training


def class_logits(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """(N, num_classes) logits of an mmpretrain classifier: backbone, neck,
    then the head's ``forward`` (which stops before the loss)."""
    return model.head(model.extract_feat(inputs))


def soft_cross_entropy(logits: torch.Tensor,
                       scores: torch.Tensor) -> torch.Tensor:
    """(N,) ``-sum_c s_c log softmax(z)_c`` of (N, C) logits and scores,
    computed in float32."""
    if logits.shape != scores.shape:
        raise ValueError(
            f'num_classes mismatch: the scores have {scores.size(1)} classes '
            f'but the classifier predicts {logits.size(1)}')
    log_probs = F.log_softmax(logits.float(), dim=1)
    return -(scores.float() * log_probs).sum(dim=1)


def saliency_and_loss(model: nn.Module, inputs: torch.Tensor,
                      scores: torch.Tensor):
    """(N, H, W) saliency of (N, C, H, W) inputs: the root mean square over
    channels of the gradient of the classification loss w.r.t. each pixel
    (PuzzleMix, Kim et al. ICML 2020), and that (N,) per-sample loss.

    The pass runs in the model's current mode; the gradient is taken w.r.t.
    the inputs only (no parameter ``.grad`` is touched) and the loss keeps
    its graph, so it can be optimised as a loss on the clean batch. The
    gradient is that of the summed loss, so each sample's saliency is
    independent of the others (up to BatchNorm batch statistics).
    """
    with torch.enable_grad():
        leaf = inputs.detach().requires_grad_(True)
        loss = soft_cross_entropy(class_logits(model, leaf), scores)
        grad, = torch.autograd.grad(loss.sum(), leaf, retain_graph=True)
    return grad.float().square().mean(dim=1).sqrt(), loss


def input_saliency(model: nn.Module, inputs: torch.Tensor,
                   scores: torch.Tensor) -> torch.Tensor:
    """(N, H, W) :func:`saliency_and_loss` saliency from a pass in eval mode
    (:func:`eval_mode`), so BatchNorm statistics are read, not written."""
    with eval_mode(model):
        return saliency_and_loss(model, inputs, scores)[0]


def last_feature_map(feats, network: str) -> torch.Tensor:
    """The last of a backbone's outputs, checked to be a (N, C', h, w)
    feature map; ``network`` names the backbone in the error."""
    feat = feats[-1] if isinstance(feats, (tuple, list)) else feats
    if not isinstance(feat, torch.Tensor) or feat.dim() != 4:
        raise ValueError(
            'the mixer needs a spatial feature map (N, C, h, w) as the last '
            f'output of the backbone; {network} gave '
            f'{getattr(feat, "shape", type(feat))}')
    return feat


def backbone_feature_map(model: nn.Module,
                         inputs: torch.Tensor) -> torch.Tensor:
    """(N, C', h, w) last output of ``model.backbone`` on ``inputs``, without
    gradients and in eval mode; ``ValueError`` if it is not a feature map."""
    with torch.no_grad(), eval_mode(model):
        feats = model.extract_feat(inputs, stage='backbone')
    return last_feature_map(feats, type(model.backbone).__name__)


def pixel_scale(model: nn.Module, channels: int):
    """Factor taking a difference of (normalised) model inputs to [0, 1]
    pixel units: ``std / 255`` of the classifier's ``ClsDataPreprocessor``
    when it normalises, else ``1 / 255`` (inputs in 0-255)."""
    preprocessor = getattr(model, 'data_preprocessor', None)
    if not getattr(preprocessor, '_enable_normalize', False):
        return 1. / 255
    std = preprocessor.std.flatten()
    if std.numel() not in (1, channels):
        raise ValueError(
            f'the data preprocessor normalises {std.numel()} channels but '
            f'the inputs have {channels}')
    return (std / 255).view(1, -1, 1, 1)
