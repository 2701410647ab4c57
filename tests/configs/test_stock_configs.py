"""The README's "DM in your own mmpretrain config" snippet, verbatim, on
mmpretrain's own mixup/cutmix configs loaded by their ``mmpretrain::``
names: the merged loss dict stays as MMEngine merges it (``use_soft``,
``loss_weight``, or DeiT's ``label_smooth_val``/``mode``), builds, and
trains a tiny batch with the meaning each inherited key has in mmpretrain.
"""
import copy
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from dm_plugin.models.losses import DecoupledMixupLoss

README = Path(__file__).resolve().parents[2] / 'README.md'
# (stock config, the loss dict the snippet merges into, input side, whether
# the stock model builds as it is)
STOCK = [
    ('resnet/resnet50_8xb16-mixup_cifar10.py',
     dict(type='DecoupledMixupLoss', loss_weight=1.0, use_soft=True,
          eta=0.1), 32, True),
    ('resnet/resnet50_8xb32-mixup_in1k.py',
     dict(type='DecoupledMixupLoss', loss_weight=1.0, use_soft=True,
          eta=0.1), 64, True),
    # mmpretrain's file names BatchCutMix, gone from mmpretrain 1.x: the
    # README says to replace its augments.
    ('resnet/resnet50_8xb32-cutmix_in1k.py',
     dict(type='DecoupledMixupLoss', loss_weight=1.0, use_soft=True,
          eta=0.1), 64, False),
    ('deit/deit-small_4xb256_in1k.py',
     dict(type='DecoupledMixupLoss', label_smooth_val=0.1, mode='original',
          eta=0.1), 224, True),
]


def readme_snippet() -> str:
    """The python block after ``<!-- stock-config -->`` in the README."""
    text = README.read_text()
    match = re.search(r'<!-- stock-config -->\s*```python\n(.*?)```', text,
                      re.S)
    assert match, 'README.md has no <!-- stock-config --> python block'
    return match.group(1)


def load_with_snippet(tmp_path, stock: str) -> Config:
    snippet = readme_snippet()
    base = re.search(r"mmpretrain::[\w/.-]+\.py", snippet).group(0)
    path = tmp_path / 'dm_config.py'
    path.write_text(snippet.replace(base, f'mmpretrain::{stock}'))
    return Config.fromfile(str(path))


def naive_dm(logits, scores, eta, smooth=0.):
    """Mean over rows of MCE + eta * λ-weighted DR on targets smoothed as
    LabelSmoothLoss('original') smooths them, one row at a time."""
    total = 0.
    for z, s in zip(logits.double(), scores.double()):
        s = (1 - smooth) * s + smooth / len(s)
        mixed = s > s.min() + 1e-3
        loss = -(s * z.log_softmax(0)).sum()
        if mixed.sum() >= 2:
            for k in mixed.nonzero().flatten():
                decoupled = torch.cat([z[k:k + 1], z[~mixed]])
                loss = loss - eta * s[k] * decoupled.log_softmax(0)[0]
        total = total + loss
    return total / len(scores)


def test_readme_snippet_is_the_diff():
    """The snippet holds the '+' lines of the README's diff."""
    text = README.read_text()
    diff = re.search(r'```diff\n(.*?)```', text, re.S).group(1)
    added = [line[1:].strip() for line in diff.splitlines()
             if line.startswith('+')]
    snippet = readme_snippet()
    assert "custom_imports = dict(imports=['dm_plugin'])" in added
    assert "custom_imports = dict(imports=['dm_plugin'])" in snippet
    loss = next(line for line in added if 'DecoupledMixupLoss' in line)
    assert loss.rstrip('),') in snippet


@pytest.mark.parametrize('stock, merged_loss, size, builds', STOCK,
                         ids=[s[0] for s in STOCK])
def test_readme_snippet_on_stock_config(tmp_path, stock, merged_loss, size,
                                        builds):
    cfg = load_with_snippet(tmp_path, stock)
    assert cfg.custom_imports == dict(imports=['dm_plugin'])
    assert cfg.model.head.loss == merged_loss  # as merged, nothing dropped

    # The head with its merged loss, on mixed scores.
    head = MODELS.build(copy.deepcopy(cfg.model.head))
    loss = head.loss_module
    assert isinstance(loss, DecoupledMixupLoss) and loss.mode == 'ce'
    assert loss.label_smooth_val == merged_loss.get('label_smooth_val', 0.)
    torch.manual_seed(0)
    num_classes = cfg.model.head.num_classes
    feats = (torch.randn(4, cfg.model.head.in_channels,
                         requires_grad=True), )
    lam = torch.rand(4, 1)
    scores = lam * torch.eye(num_classes)[[0, 1, 2, 3]] + \
        (1 - lam) * torch.eye(num_classes)[[1, 2, 3, 0]]
    samples = [DataSample().set_gt_score(s) for s in scores]
    value = head.loss(feats, samples)['loss']
    expected = naive_dm(head(feats).detach(), scores, 0.1,
                        merged_loss.get('label_smooth_val', 0.))
    torch.testing.assert_close(value.double(), expected, rtol=1e-5, atol=0)
    value.backward()
    assert torch.isfinite(feats[0].grad).all() and feats[0].grad.any()

    # The whole model, through the data preprocessor's batch augments, as
    # the Runner builds it (DeiT only at the head: 224-pixel ViT).
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    if not builds:
        with pytest.raises(KeyError, match='BatchCutMix'):
            MODELS.build(copy.deepcopy(model_cfg))
        model_cfg.train_cfg = dict(augments=[dict(type='CutMix', alpha=1.0)])
    model = MODELS.build(model_cfg)
    if stock.startswith('deit'):
        return
    images = [(torch.rand(3, size, size) * 255).byte() for _ in range(2)]
    data = model.data_preprocessor(
        dict(inputs=images,
             data_samples=[DataSample().set_gt_label(i) for i in (0, 5)]),
        training=True)
    losses = model.loss(data['inputs'], data['data_samples'])
    losses['loss'].backward()
    assert torch.isfinite(losses['loss'])
    assert torch.isfinite(model.head.fc.weight.grad).all()
