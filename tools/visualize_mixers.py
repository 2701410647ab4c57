"""Draw what each mixer does: a PNG grid per mixer, and one of them all.

    python tools/visualize_mixers.py [SOURCE] --out DIR [--mixers NAME ...]
        [--pairs 4] [--mode elem] [--seed 0]

SOURCE is a config file (its ``model.mixer`` list and its training images),
an image folder (ImageFolder layout or flat), or ``digits`` (the default:
the embedded DigitsDataset, nothing to download). Without a config every
mixer registered in ``dm_plugin.registry.MIXERS`` is drawn with its defaults.

Each row shows a sample A, its partner B, the mixed image, and the mask:
the weight of A in each mixed pixel, fitted per pixel over the channels
(white: A, black: B; red where A and B are too alike to tell, or where the
pixel is no blend of them, e.g. a resized partner). The row title gives λ,
the weight of A's label in the mixed scores, and says so when the image is
untouched while λ < 1 (ManifoldMix mixing hidden features).

Partners and λ are read off the mixed scores, with every image given its own
class, so any mixer that keeps the contract can be drawn. Mixers that need
the model get a randomly initialised ResNet-18 (CIFAR variant): dynamic
mixers show their mechanism, not what a trained model would pick.
"""
import argparse
import inspect
import itertools
import os
import os.path as osp
import sys
import textwrap

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import dm_plugin  # noqa: E402,F401  (registers mixers, models, datasets)
from dm_plugin.registry import MIXERS, build_mixer  # noqa: E402

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif',
                  '.tiff', '.webp')
# Static mixers first, in the order of the docs; others follow by name.
KNOWN_ORDER = ('Mixup', 'CutMix', 'ResizeMix', 'FMix', 'GridMix',
               'SaliencyMix', 'SmoothMix', 'ManifoldMix', 'PuzzleMix',
               'AttentiveMix', 'AutoMix', 'SAMix')
# What mixers need to know of the tools' ResNet-18 (CIFAR): the channels of
# the stage AutoMix and SAMix read (layer3).
RESNET18_CIFAR_ARGS = {
    'AutoMix': dict(in_channels=256),
    'SAMix': dict(in_channels=256)
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        'source',
        nargs='?',
        default='digits',
        help="config file, image folder, or 'digits' (default)")
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--mixers', nargs='+', help='mixer names (default: all / config)')
    parser.add_argument(
        '--pairs', type=int, default=4, help='rows per mixer (default 4)')
    parser.add_argument(
        '--mode',
        choices=('batch', 'elem', 'pair'),
        default='elem',
        help="λ sharing passed to every mixer (default 'elem': each row "
        'draws its own)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error('--pairs must be >= 1')
    return args


def folder_images(root: str, count: int) -> np.ndarray:
    """(count, H, W, C) uint8 images from a folder tree, one from each
    sub-folder (class) in turn; all resized to the first one's size."""
    groups = []
    for folder, _, files in sorted(os.walk(root)):
        files = sorted(f for f in files if f.lower().endswith(IMAGE_SUFFIXES))
        if files:
            groups.append([osp.join(folder, f) for f in files])
    paths = [p for row in itertools.zip_longest(*groups) for p in row
             if p][:count]
    if len(paths) < count:
        raise FileNotFoundError(f'{root} holds {len(paths)} images; '
                                f'{count} are needed (2 per pair)')
    images = [Image.open(p) for p in paths[:count]]
    mode = 'L' if all(im.mode in ('1', 'L', 'I;16') for im in images) \
        else 'RGB'
    size = images[0].size
    return np.stack([
        np.asarray(im.convert(mode).resize(size), dtype=np.uint8).reshape(
            size[1], size[0], -1) for im in images
    ])


def dataset_images(dataset_cfg: dict, count: int) -> np.ndarray:
    """(count, H, W, C) uint8 images of an mmpretrain dataset config, spread
    over the dataset, loaded without the training augmentations."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS

    init_default_scope('mmpretrain')
    cfg = dict(dataset_cfg)
    pipeline = cfg.get('pipeline') or []
    loads = [t for t in pipeline if t.get('type') == 'LoadImageFromFile']
    cfg['pipeline'] = loads
    dataset = DATASETS.build(cfg)
    if len(dataset) < count:
        raise ValueError(f'the dataset holds {len(dataset)} images; '
                         f'{count} are needed (2 per pair)')
    picks = np.linspace(0, len(dataset) - 1, count).round().astype(int)
    images = []
    for i in picks:
        image = np.asarray(dataset[int(i)]['img'])
        if image.ndim == 2:
            image = image[..., None]
        if loads and image.shape[-1] == 3:
            image = image[..., ::-1]  # mmcv loads BGR
        images.append(image)
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(f'images of several sizes {sorted(shapes)}: point '
                         'the tool at a folder to have them resized')
    return np.stack(images).astype(np.uint8)


def load_source(source: str, count: int):
    """(images (count, H, W, C) uint8, mixer configs or None)."""
    if source == 'digits':
        return dataset_images(dict(type='DigitsDataset', split='test'),
                              count), None
    if osp.isdir(source):
        return folder_images(source, count), None
    if osp.isfile(source) and source.endswith('.py'):
        from mmengine.config import Config
        cfg = Config.fromfile(source)
        mixers = cfg.model.get('mixer')
        if isinstance(mixers, dict):
            mixers = [mixers]
        images = dataset_images(cfg.train_dataloader.dataset, count)
        return images, [dict(m) for m in mixers or []] or None
    raise FileNotFoundError(f"{source!r} is neither 'digits', a folder nor "
                            'a .py config file')


def mixer_configs(names, from_config, mode):
    if from_config is not None and not names:
        cfgs = from_config
    else:
        known = [n for n in KNOWN_ORDER if n in MIXERS.module_dict]
        registered = known + sorted(set(MIXERS.module_dict) - set(known))
        names = names or registered
        unknown = sorted(set(names) - set(registered))
        if unknown:
            raise KeyError(f'unknown mixers {unknown}; registered: '
                           f'{", ".join(registered)}')
        cfgs = [dict(type=n, **RESNET18_CIFAR_ARGS.get(n, {})) for n in names]
    for cfg in cfgs:
        mixer_cls = MIXERS.get(cfg['type'])
        if mixer_cls is None:
            raise KeyError(f"unknown mixer {cfg['type']!r}")
        if 'mode' in inspect.signature(mixer_cls).parameters:
            cfg['mode'] = mode
    return cfgs


def visual_classifier(channels: int, num_classes: int):
    """A randomly initialised ResNet-18 (CIFAR) MixupClassifier."""
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(
            type='MixupClassifier',
            backbone=dict(type='ResNet_CIFAR', depth=18,
                          in_channels=channels),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=num_classes,
                in_channels=512,
                loss=dict(type='CrossEntropyLoss', use_soft=True))))


def run_mixer(mixer, images: torch.Tensor, model=None):
    """Mix the batch with every image its own class, as MixupClassifier
    does; returns mixed images, partner index and λ."""
    num = images.size(0)
    scores = torch.eye(num)
    if mixer.needs_model:
        mixed, mixed_scores = mixer(images, scores, model=model)
        with torch.no_grad():  # lets one-shot feature hooks fire and go
            model.extract_feat(mixed)
    else:
        mixed, mixed_scores = mixer(images, scores)
    mixed_scores = mixed_scores.detach()
    lam = mixed_scores.diagonal()
    others = mixed_scores - torch.diag_embed(lam)
    index = torch.where(lam < 1, others.argmax(1), torch.arange(num))
    return mixed.detach(), index, lam


def fitted_mask(own, other, mixed):
    """(N, H, W) per-pixel weight m of ``mixed ≈ m own + (1 - m) other``
    (least squares over channels); NaN where own and other are alike or the
    pixel is no such blend."""
    diff = own - other
    power = diff.square().sum(1)
    weight = ((mixed - other) * diff).sum(1) / power.clamp(min=1e-12)
    weight = weight.clamp(0, 1)
    fit = weight[:, None] * diff + other
    residual = (mixed - fit).square().sum(1)
    unclear = (power < 1e-4) | (residual > 0.02 * power + 1e-6)
    return weight.masked_fill(unclear, float('nan'))


def row_title(image, mixed, lam) -> str:
    if lam < 1 and torch.equal(image, mixed):
        return f'λ={lam:.2f}\n(features\nmixed)'
    return f'λ={lam:.2f}'


def to_display(image: torch.Tensor):
    """(C, H, W) in [0, 1] -> array for imshow, and its colormap."""
    image = image.clamp(0, 1)
    if image.size(0) == 3:
        return image.permute(1, 2, 0).numpy(), None
    return image.mean(0).numpy(), 'gray'


def draw_rows(axes_rows, rows):
    """Fill rows of 4 axes with (A, B, mixed, mask, title) tuples."""
    import matplotlib

    mask_cmap = matplotlib.colormaps['gray'].with_extremes(bad='tab:red')
    for axes, (own, other, mixed, mask, title) in zip(axes_rows, rows):
        for ax, image in zip(axes[:3], (own, other, mixed)):
            array, cmap = to_display(image)
            ax.imshow(array, cmap=cmap, vmin=0, vmax=1,
                      interpolation='nearest')
        axes[3].imshow(mask.numpy(), cmap=mask_cmap, vmin=0, vmax=1,
                       interpolation='nearest')
        axes[0].set_ylabel(title, rotation=0, ha='right', va='center',
                           fontsize=9)
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
    for ax, name in zip(axes_rows[0], ('A', 'partner B', 'mixed',
                                        'mask (weight of A)')):
        ax.set_title(name, fontsize=9)


def mixer_title(name: str, mixer, width: int = 72) -> str:
    """``Name(settings)`` wrapped to ``width`` characters a line: the
    mixer's own arguments (``extra_repr``), not the modules it holds (a
    dynamic mixer's repr prints its whole network)."""
    return textwrap.fill(f'{name}({mixer.extra_repr()})', width=width,
                         subsequent_indent='    ', break_long_words=False)


def save_grid(path: str, rows, header: str = None):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    header_lines = header.count('\n') + 1 if header else 0
    fig, axes = plt.subplots(
        len(rows), 4, figsize=(6.4, 1.6 * len(rows) + 0.2 * header_lines),
        squeeze=False, layout='constrained')
    draw_rows(axes, rows)
    if header:
        fig.suptitle(header, fontsize=8, family='monospace')
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    count = 2 * args.pairs
    images_np, from_config = load_source(args.source, count)
    images = torch.from_numpy(images_np).permute(0, 3, 1, 2).float() / 255
    cfgs = mixer_configs(args.mixers, from_config, args.mode)
    model = None
    if any(MIXERS.get(cfg['type']).needs_model for cfg in cfgs):
        torch.manual_seed(args.seed)
        model = visual_classifier(images.size(1), count)
    os.makedirs(args.out, exist_ok=True)
    overview, failed = [], []
    for cfg in cfgs:
        name = cfg['type']
        torch.manual_seed(args.seed)
        np.random.seed(args.seed)
        try:
            mixer = build_mixer(cfg)
            mixed, index, lam = run_mixer(mixer, images, model)
        except Exception as error:  # draw the others, report this one
            print(f'{name}: failed: {type(error).__name__}: {error}',
                  file=sys.stderr)
            failed.append(name)
            continue
        # Rows of samples that got a partner first.
        shown = sorted(range(count), key=lambda i: bool(index[i] == i))
        masks = fitted_mask(images, images[index], mixed)
        rows = [(images[i], images[index[i]], mixed[i], masks[i],
                 row_title(images[i], mixed[i], lam[i]))
                for i in shown[:args.pairs]]
        path = osp.join(args.out, f'{name}.png')
        save_grid(path, rows, header=mixer_title(name, mixer))
        overview.append(rows[0][:4] + (f'{name}\n{rows[0][4]}', ))
        print(f'{name}: {path}')
    if overview:
        path = osp.join(args.out, 'overview.png')
        save_grid(path, overview)
        print(f'all mixers: {path}')
    if failed:
        raise SystemExit(f'could not draw: {", ".join(failed)}')


if __name__ == '__main__':
    main()
