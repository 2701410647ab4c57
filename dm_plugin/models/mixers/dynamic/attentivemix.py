"""AttentiveMix: paste the partner's most attended grid cells.

Walawalkar et al. "Attentive CutMix: An Enhanced Data Augmentation Approach
for Deep Learning Based Image Classification", ICASSP 2020; "AttentiveMix+"
is OpenMixup's variant (``openmixup/models/augments/attentivemix.py``).
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.runner.checkpoint import CheckpointLoader
from mmpretrain.registry import MODELS

import dm_plugin.engine  # noqa: F401  (makes mmengine's loaders safe)
from dm_plugin.registry import MIXERS
from dm_plugin.validation import check_int
from ..base import BaseMixer
from ..static.masks import mix_with_mask
from .utils import backbone_feature_map, last_feature_map


def grid_cells(size: int, cells: int, device: torch.device) -> torch.Tensor:
    """(size,) grid cell of each pixel row (or column) when ``size`` pixels
    are cut into ``cells`` near-equal cells (sizes differ by at most 1)."""
    return torch.arange(size, device=device) * cells // size


def backbone_state(checkpoint: dict, prefix: str) -> dict:
    """The entries of a loaded checkpoint (a state dict, or mmengine's
    ``{'state_dict': ...}``) under ``prefix``, with the prefix removed."""
    state = checkpoint.get('state_dict', checkpoint)
    return {
        key[len(prefix):]: value
        for key, value in state.items() if key.startswith(prefix)
    }


@MIXERS.register_module()
class AttentiveMix(BaseMixer):
    """Attentive CutMix (Walawalkar et al., ICASSP 2020): the image is cut
    into a grid, and the ``top_k`` cells where the partner's attention is
    highest are pasted from the partner at the same places. λ is the area
    kept (pixel-exact, cells may differ by one pixel).

    The attention is the channel mean of a last backbone feature map, from
    either

    - a pretrained network (``attention_net``, an mmpretrain backbone
      config, with weights from ``attention_checkpoint``): the paper's
      method (an ImageNet ResNet-50, 7x7 grid, ``top_k=6``) and OpenMixup's
      AttentiveMix+ (ImageNet ResNet-18 or -50 on the inputs resized to
      224, the feature map's own 7x7 grid, ``top_k=None`` with
      ``alpha=2``). The network is frozen (no gradients) and is a submodule
      of the mixer, so it follows the classifier's train/eval mode: in
      training its BatchNorm layers use the batch's statistics, as in
      OpenMixup (set ``norm_eval=True`` in its config for the running
      statistics);
    - or, without ``attention_net``, the classifier being trained (its own
      last backbone feature map, one extra forward pass in eval mode): a
      self-attention variant that needs no external weights.

    The checkpoint is read through mmengine's ``CheckpointLoader``, so it
    may be a local path or any mmengine source (``torchvision://resnet18``,
    ``https://...``, ``open-mmlab://...``; downloads go to torch's hub
    cache), always with this project's weights-only loaders
    (:mod:`dm_plugin.engine.checkpoint`: a file that asks to run code is
    refused), when the classifier's weights are initialised (the Runner's
    ``init_weights()``), or at the first mix if that never happened. Every
    parameter and buffer of the network must be in it (under
    ``attention_prefix``); other entries (a classifier's ``fc``) are
    ignored.

    Args:
        alpha (float): Beta concentration (> 0) of λ, used only when
            ``top_k`` is None. Defaults to 1.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` sharing of λ and
            partners, see :class:`BaseMixer`. Defaults to ``'batch'``.
        grid_size (int, optional): Cells per side (>= 1), the attention map
            resized bilinearly to it; ``None``: the feature map's own
            resolution. Defaults to 7.
        top_k (int, optional): Cells pasted (>= 1, at most the grid's);
            ``None``: ``floor((1 - lam) * cells)``, at least 1, with ``lam ~
            Beta(alpha, alpha)`` (OpenMixup's AttentiveMix+). Defaults to 6.
        attention_net (dict, optional): mmpretrain backbone config of the
            pretrained attention network, e.g. ``dict(type='ResNet',
            depth=18)``. Defaults to None (the classifier itself).
        attention_checkpoint (str, optional): Its weights (a state dict or
            an mmengine checkpoint): a local path or an mmengine source such
            as ``'torchvision://resnet18'``; required with
            ``attention_net``.
        attention_prefix (str): Key prefix of the network's entries in the
            checkpoint, e.g. ``'backbone.'`` for an mmpretrain classifier.
            Defaults to ``''`` (torchvision's ResNet files).
        attention_size (int, optional): Side the inputs are resized to
            (bilinearly, by the factor ``attention_size / H``) before the
            attention network, as OpenMixup feeds its 224-pixel ImageNet
            networks; ``None`` keeps them. Defaults to 224.

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K).
    """

    needs_model = True

    def __init__(self,
                 alpha: float = 1.0,
                 mode: str = 'batch',
                 grid_size: Optional[int] = 7,
                 top_k: Optional[int] = 6,
                 attention_net: Optional[dict] = None,
                 attention_checkpoint: Optional[str] = None,
                 attention_prefix: str = '',
                 attention_size: Optional[int] = 224):
        super().__init__(alpha, mode)
        if grid_size is not None:
            check_int('grid_size', grid_size, 1)
        if top_k is not None:
            check_int('top_k', top_k, 1)
            if grid_size is not None and top_k > grid_size**2:
                raise ValueError(f'top_k={top_k} exceeds the {grid_size**2} '
                                 f'cells of a {grid_size}x{grid_size} grid')
        if attention_size is not None:
            check_int('attention_size', attention_size, 1)
        if not isinstance(attention_prefix, str):
            raise TypeError('attention_prefix must be a str, got '
                            f'{attention_prefix!r}')
        self.grid_size = grid_size
        self.top_k = top_k
        self.attention_size = attention_size
        self.attention_prefix = attention_prefix
        self.attention_checkpoint = attention_checkpoint
        self.attention_net = self.build_attention_net(attention_net,
                                                      attention_checkpoint)
        self._attention_loaded = False

    @staticmethod
    def build_attention_net(cfg: Optional[dict],
                            checkpoint: Optional[str]) -> Optional[nn.Module]:
        """The frozen attention network of ``cfg`` (weights not yet read),
        or None; checks that ``cfg`` and ``checkpoint`` come together."""
        if cfg is None:
            if checkpoint is not None:
                raise ValueError('attention_checkpoint is given without '
                                 'attention_net, the network it is for')
            return None
        if not isinstance(cfg, dict) or 'type' not in cfg:
            raise TypeError('attention_net must be an mmpretrain backbone '
                            f'config dict with a type, got {cfg!r}')
        if not isinstance(checkpoint, str) or not checkpoint:
            raise ValueError(
                'attention_net needs attention_checkpoint: its pretrained '
                "weights, a local path or e.g. 'torchvision://resnet18'")
        net = MODELS.build(cfg)
        net.requires_grad_(False)
        return net

    def load_attention_weights(self) -> None:
        """Read ``attention_checkpoint`` into the attention network (weights
        only); errors name the file and the missing or mismatched keys."""
        path = self.attention_checkpoint
        checkpoint = CheckpointLoader.load_checkpoint(path,
                                                      map_location='cpu')
        if not isinstance(checkpoint, dict):
            raise ValueError(f'attention_checkpoint {path!r} holds a '
                             f'{type(checkpoint).__name__}, not a state dict')
        state = backbone_state(checkpoint, self.attention_prefix)
        expected = self.attention_net.state_dict()
        missing = [
            key for key in expected
            if key not in state and not key.endswith('num_batches_tracked')
        ]
        if missing:
            raise KeyError(
                f'attention_checkpoint {path!r} lacks {len(missing)} of the '
                f'{len(expected)} entries of the attention network under '
                f'prefix {self.attention_prefix!r}, e.g. {missing[:3]}; is '
                'it the network of attention_net, and is attention_prefix '
                "right ('backbone.' for an mmpretrain classifier)?")
        for key, value in expected.items():
            if key not in state:
                continue
            found = state[key]
            if not isinstance(found, torch.Tensor) or \
                    found.shape != value.shape:
                raise ValueError(
                    f'attention_checkpoint {path!r}: {key} has shape '
                    f'{tuple(getattr(found, "shape", ()))} but the attention '
                    f'network expects {tuple(value.shape)}')
        self.attention_net.load_state_dict(
            {key: state[key] for key in expected if key in state},
            strict=False)
        self._attention_loaded = True

    def bind_classifier(self, classifier: nn.Module) -> None:
        """Read the attention network's weights once the classifier's own
        are initialised (``init_weights()``, called by the Runner)."""
        if self.attention_net is not None and getattr(
                classifier, 'is_init', False):
            self.load_attention_weights()

    def attention(self, model: nn.Module,
                  inputs: torch.Tensor) -> torch.Tensor:
        """(N, gh, gw) channel mean of the last feature map of the
        attention network (or of the classifier's backbone), resized to
        ``grid_size x grid_size`` when that is set."""
        if self.attention_net is None:
            feat = backbone_feature_map(model, inputs)
        else:
            if not self._attention_loaded:
                self.load_attention_weights()
            scale = None if self.attention_size is None else \
                self.attention_size / inputs.size(2)
            with torch.no_grad():
                if scale is not None and scale != 1:
                    inputs = F.interpolate(
                        inputs, scale_factor=scale, mode='bilinear',
                        align_corners=False)
                feat = last_feature_map(
                    self.attention_net(inputs),
                    type(self.attention_net).__name__)
        feat = feat.float().mean(dim=1, keepdim=True)
        if self.grid_size is not None:
            feat = F.interpolate(
                feat, size=(self.grid_size, self.grid_size), mode='bilinear',
                align_corners=False, antialias=True)
        return feat[:, 0]

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor,
            model: nn.Module):
        num, _, height, width = inputs.shape
        index = self.sample_index(num, inputs.device)
        attention = self.attention(model, inputs)[index]
        grid = attention.shape[1:]
        cells = grid.numel()
        if self.top_k is None:
            lam = self.sample_lam(index)
            top_k = ((1 - lam) * cells).floor().clamp(min=1, max=cells)
        elif self.top_k > cells:
            raise ValueError(f'top_k={self.top_k} exceeds the {cells} cells '
                             f'of the {grid[0]}x{grid[1]} feature map')
        else:
            top_k = torch.full((num, ), self.top_k, device=inputs.device)
        order = attention.flatten(1).argsort(
            dim=1, descending=True, stable=True)
        rank = torch.empty_like(order).scatter_(
            1, order,
            torch.arange(cells, device=inputs.device).expand_as(order))
        pasted = (rank < top_k[:, None]).view(num, *grid)
        rows = grid_cells(height, grid[0], inputs.device)
        cols = grid_cells(width, grid[1], inputs.device)
        keep = ~pasted[:, rows][:, :, cols]
        return mix_with_mask(inputs, scores, index, keep[:, None])

    def extra_repr(self) -> str:
        text = (f'{super().extra_repr()}, grid_size={self.grid_size}, '
                f'top_k={self.top_k}')
        if self.attention_net is not None:
            text += (f', attention_checkpoint={self.attention_checkpoint!r}'
                     f', attention_prefix={self.attention_prefix!r}, '
                     f'attention_size={self.attention_size}')
        return text
