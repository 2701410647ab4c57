"""Class activation maps of both mixed classes on mixed samples (the DM
paper's Figure 1): where does each model see each of the two classes?

    python tools/visualize_cam.py CONFIG CKPT [CONFIG CKPT ...] --out DIR
        [--labels MCE DM] [--mixer CutMix|Mixup] [--lam 0.5] [--pairs 4]
        [--seed 0] [--cfg-options KEY=VALUE ...]

Each (CONFIG, CKPT) is one model; all models see the same mixed samples, built
from the first model's test set. CAM (Zhou et al., CVPR 2016) of class c is
``relu(sum_k W[c, k] F_k)`` over the last feature map F, for backbones followed
by global average pooling and a linear head (LinearClsHead, DMClsHead). The
tool prints which feature map it uses, and refuses a 1x1 map (small images
through a deep backbone, e.g. the 8x8 digits of the quickstart): its CAM is
one value spread over the whole image.
"""
import argparse
import os
import os.path as osp
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmpretrain.registry import DATASETS, MODELS  # noqa: E402

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import dm_plugin  # noqa: E402,F401
from dm_plugin.engine.checkpoint import load_model_weights  # noqa: E402

MIXED_VIEWS = ('Mixup', 'CutMix')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('models', nargs='+', help='CONFIG CKPT pairs')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--labels', nargs='+', help='one name per model')
    parser.add_argument('--mixer', default='CutMix', choices=MIXED_VIEWS)
    parser.add_argument('--lam', type=float, default=0.5,
                        help='share of the first image (0 < lam < 1)')
    parser.add_argument('--pairs', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override entries of every config')
    args = parser.parse_args(argv)
    if len(args.models) % 2:
        parser.error('models come as CONFIG CKPT pairs')
    pairs = list(zip(args.models[::2], args.models[1::2]))
    for config, ckpt in pairs:
        for path in (config, ckpt):
            if not osp.isfile(path):
                parser.error(f'file not found: {path}')
    if args.labels and len(args.labels) != len(pairs):
        parser.error(f'--labels needs {len(pairs)} names')
    if not 0 < args.lam < 1:
        parser.error('--lam must be in (0, 1)')
    args.pairs_of_models = pairs
    return args


def load_model(config: str, checkpoint: str, cfg_options=None):
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = MODELS.build(cfg.model)
    load_model_weights(model, checkpoint)  # safe; fails on other shapes
    head = model.head
    if not isinstance(getattr(head, 'fc', None), torch.nn.Linear):
        raise TypeError(f'CAM needs a linear head (fc), got '
                        f'{type(head).__name__}')
    neck = getattr(model, 'neck', None)
    if type(neck).__name__ != 'GlobalAveragePooling':
        raise TypeError('CAM needs global average pooling between the '
                        f'backbone and the head, got {type(neck).__name__}')
    return cfg, model.eval()


def feature_layer(model) -> str:
    """Which backbone output the CAM uses, in words."""
    stages = getattr(model.backbone, 'out_indices', None)
    stage = f' stage {stages[-1]}' if stages else ''
    return f'{type(model.backbone).__name__}{stage} output'


@torch.no_grad()
def last_feature_map(model, inputs: torch.Tensor) -> torch.Tensor:
    """(N, K, h, w) last backbone feature map; raises ``ValueError`` when it
    is 1x1, where a CAM cannot localise anything."""
    feature = model.backbone(inputs)[-1]
    if feature.dim() != 4:
        raise ValueError(f'CAM needs a (N, K, h, w) feature map from the '
                         f'backbone, got shape {tuple(feature.shape)}')
    if feature.shape[-2:] == (1, 1):
        raise ValueError(
            f'the {feature_layer(model)} is 1x1 for {inputs.shape[-2]}x'
            f'{inputs.shape[-1]} inputs ({feature.shape[1]} channels): its '
            'CAM is one value spread over the image. CAMs need a spatial '
            'map: larger images, or a backbone that downsamples less (e.g. '
            '32x32 CIFAR images through ResNet_CIFAR give 4x4).')
    return feature


def pick_pairs(cfg, num_pairs: int, seed: int):
    """``num_pairs`` test samples of one class and ``num_pairs`` of
    another, preprocessed, as (2 * num_pairs, C, H, W) data batch."""
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(dataset), generator=generator).tolist()
    first, second = [], []
    for index in order:
        item = dataset[index]
        label = int(item['data_samples'].gt_label)
        if len(first) < num_pairs:
            first.append(item)
        elif label != int(first[len(second)]['data_samples'].gt_label):
            second.append(item)
        if len(second) == num_pairs:
            break
    if len(second) < num_pairs:
        raise ValueError(f'could not find {num_pairs} pairs of different '
                         'classes in the test set')
    return pseudo_collate(first + second), dataset.metainfo.get('classes')


def mix(images: torch.Tensor, mixer: str, lam: float) -> torch.Tensor:
    """Mix image i of the first half with image i of the second half."""
    first, second = images.chunk(2)
    if mixer == 'Mixup':
        return lam * first + (1 - lam) * second
    height, width = first.shape[-2:]
    cut_h = round(height * (1 - lam)**0.5)
    cut_w = round(width * (1 - lam)**0.5)
    top, left = (height - cut_h) // 2, (width - cut_w) // 2
    mixed = first.clone()
    mixed[..., top:top + cut_h, left:left + cut_w] = \
        second[..., top:top + cut_h, left:left + cut_w]
    return mixed


@torch.no_grad()
def class_activation_maps(model, inputs: torch.Tensor,
                          classes: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) inputs, (N,) classes -> (N, H, W) CAMs in [0, 1]."""
    feature = last_feature_map(model, inputs)  # (N, K, h, w)
    weights = model.head.fc.weight[classes]  # (N, K)
    cam = F.relu(torch.einsum('nk,nkhw->nhw', weights, feature))
    cam = F.interpolate(cam[:, None], size=inputs.shape[-2:],
                        mode='bilinear', align_corners=False)[:, 0]
    peak = cam.flatten(1).amax(dim=1).clamp_min(1e-12)
    return cam / peak[:, None, None]


def to_display(images: torch.Tensor, preprocessor) -> torch.Tensor:
    """Undo the preprocessor's normalisation: (N, C, H, W) -> (N, H, W, C)
    in [0, 1]."""
    mean = getattr(preprocessor, 'mean', None)
    std = getattr(preprocessor, 'std', None)
    if mean is not None:
        images = images * std + mean
    images = (images / 255.).clamp(0, 1).permute(0, 2, 3, 1)
    return images.squeeze(-1) if images.size(-1) == 1 else images


def main(argv=None):
    args = parse_args(argv)
    models = [load_model(c, k, args.cfg_options)
              for c, k in args.pairs_of_models]
    labels = args.labels or [osp.splitext(osp.basename(c))[0]
                             for c, _ in args.pairs_of_models]
    batch, class_names = pick_pairs(models[0][0], args.pairs, args.seed)
    preprocessor = models[0][1].data_preprocessor
    data = preprocessor(batch, training=False)
    inputs = data['inputs']
    targets = torch.cat([s.gt_label for s in data['data_samples']])
    first_cls, second_cls = targets.chunk(2)
    mixed = mix(inputs, args.mixer, args.lam)

    columns = 3 + 2 * len(models)
    fig, axes = plt.subplots(args.pairs, columns,
                             figsize=(1.8 * columns, 1.9 * args.pairs),
                             squeeze=False)
    shown = to_display(torch.cat([inputs, mixed]), preprocessor)
    first_img, second_img, mixed_img = shown.split(args.pairs)

    def name(index):
        return class_names[index] if class_names else str(int(index))

    cams = [(class_activation_maps(m, mixed, first_cls),
             class_activation_maps(m, mixed, second_cls)) for _, m in models]
    layers = []
    for label, (_, model) in zip(labels, models):
        size = 'x'.join(map(str, last_feature_map(model, mixed).shape[1:]))
        layers.append(f'{label}: {feature_layer(model)} ({size}) x head.fc')
        print(f'CAM of {layers[-1]}')
    for row in range(args.pairs):
        cells = [(first_img[row], f'A: {name(first_cls[row])}', None),
                 (second_img[row], f'B: {name(second_cls[row])}', None),
                 (mixed_img[row], f'{args.mixer} λ={args.lam:g}', None)]
        for label, (cam_a, cam_b) in zip(labels, cams):
            cells += [(mixed_img[row], f'{label}: CAM A', cam_a[row]),
                      (mixed_img[row], f'{label}: CAM B', cam_b[row])]
        for ax, (image, title, cam) in zip(axes[row], cells):
            ax.imshow(image.numpy(), cmap='gray' if image.dim() == 2 else None)
            if cam is not None:
                ax.imshow(cam.numpy(), cmap='jet', alpha=0.5, vmin=0, vmax=1)
            ax.set_title(title, fontsize=7)
            ax.axis('off')
    fig.suptitle('; '.join(layers), fontsize=7)
    fig.tight_layout()
    os.makedirs(args.out, exist_ok=True)
    path = osp.join(args.out, f'cam_{args.mixer.lower()}.png')
    fig.savefig(path, dpi=120)
    print(f'saved {path}')
    return path


if __name__ == '__main__':
    main()
