"""Train Self-Tuning and DMixTuning briefly on a generated fine-grained-like
set, on the CPU, and print their test accuracy.

    python tools/fine_grained_semisup_check.py [--work-dir D] [--epochs 20]
        [--seed 0] [--methods self_tuning dmix_tuning]

The set: ``--classes`` classes of 32x32 "birds" (an ellipse of random
colour, size and position on a random background gradient, plus noise) that
differ only in the colour of a small mark on the body, 40 training and 20
test images per class, 15% of the training images labeled.
The runs use the real ResNet-18 configs
(``configs/semisup/r18_{self_tuning,dmix_tuning}_cub_15pct.py``) with what a
32x32 CPU run needs changed: random initialisation (no download), 32x32
views (RandomResizedCrop scale 0.5-1), lr 0.02, batch 24. It shows that
the classifiers train end to end through the Runner; the numbers say nothing
about the methods' accuracy on real fine-grained data.
"""
import argparse
import json
import logging
import os
import os.path as osp

import numpy as np
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = {
    name: osp.join(REPO, 'configs', 'semisup', f'r18_{name}_cub_15pct.py')
    for name in ('self_tuning', 'dmix_tuning')
}
SIZE = 32


def draw_bird(rng: np.random.Generator, label: int,
              num_classes: int) -> np.ndarray:
    """(32, 32, 3) uint8: background gradient, a bird-like ellipse of random
    colour, size and place, and on it a small mark whose colour (one of
    ``num_classes`` hues at full saturation) gives the class."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    start, end = rng.uniform(40, 200, 3), rng.uniform(40, 200, 3)
    image = start + (end - start) * (cols / SIZE)[..., None]
    center = rng.uniform(12, 20, 2)
    radii = rng.uniform(6, 9, 2)
    body = ((rows - center[0]) / radii[0])**2 + \
        ((cols - center[1]) / radii[1])**2 <= 1
    image[body] = rng.uniform(90, 170, 3)
    angle = rng.uniform(0, 2 * np.pi)
    mark = center + 0.5 * radii * np.array([np.sin(angle), np.cos(angle)])
    hue = 2 * np.pi * label / num_classes
    colour = 127.5 + 127.5 * np.cos(hue - np.array([0, 2, 4]) * np.pi / 3)
    image[(rows - mark[0])**2 + (cols - mark[1])**2 <= 5.0] = colour
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_dataset(root: str, num_classes: int, seed: int) -> str:
    """Write ``root/{train,test}/class_k/i.png``; return ``root``."""
    rng = np.random.default_rng(seed)
    for split, per_class in (('train', 40), ('test', 20)):
        for label in range(num_classes):
            folder = osp.join(root, split, f'class_{label}')
            os.makedirs(folder, exist_ok=True)
            for i in range(per_class):
                Image.fromarray(draw_bird(rng, label, num_classes)).save(
                    osp.join(folder, f'{i}.png'))
    return root


def run_config(method: str, data_root: str, work_dir: str, epochs: int,
               num_classes: int, seed: int) -> dict:
    """Train ``method`` for ``epochs`` epochs; return its test metrics."""
    cfg = Config.fromfile(CONFIGS[method])
    views = [
        dict(type='RandomResizedCrop', scale=SIZE,
             crop_ratio_range=(0.5, 1.0)),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='PackInputs'),
    ]
    folder = dict(type='CustomDataset', data_root=data_root,
                  pipeline=[dict(type='LoadImageFromFile')])
    test_set = dict(folder, data_prefix='test', pipeline=[
        dict(type='LoadImageFromFile'), dict(type='PackInputs')])
    cfg.merge_from_dict({
        'work_dir': work_dir,
        'randomness.seed': seed,
        'log_level': 'WARNING',
        'model.backbone.init_cfg': None,
        'model.head.num_classes': num_classes,
        'optim_wrapper.optimizer.lr': 0.02,
        'train_cfg.max_epochs': epochs,
        'train_cfg.val_interval': epochs,
        'param_scheduler.T_max': epochs,
        'default_hooks.checkpoint.interval': epochs,
        'default_hooks.logger.interval': 10,
        'train_dataloader.num_workers': 0,
        'train_dataloader.pin_memory': False,
        'train_dataloader.dataset.split_file': osp.join(
            work_dir, 'split.json'),
        'val_dataloader.num_workers': 0,
        'test_dataloader.num_workers': 0,
        'data_preprocessor.num_classes': num_classes,
        'val_evaluator.topk': (1, ),
        'test_evaluator.topk': (1, ),
    })
    # Replaced, not merged: the CUB dataset's own keys must go.
    train_set = cfg.train_dataloader.dataset
    train_set.dataset = dict(folder, data_prefix='train')
    train_set.weak_pipeline = train_set.strong_pipeline = views
    cfg.val_dataloader.dataset = cfg.test_dataloader.dataset = test_set
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    scalars = runner.message_hub.log_scalars
    metrics.update({
        key: float(scalars[f'train/{key}'].current())
        for key in ('loss_cls', 'loss_pgc_l', 'loss_pgc_u', 'pseudo_acc',
                    'loss_mix_ll', 'loss_mix_lu', 'lu_weight')
        if f'train/{key}' in scalars
    })
    metrics['iterations'] = runner.iter
    return metrics


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/fine_grained_check')
    parser.add_argument('--epochs', type=int, default=20)
    parser.add_argument('--classes', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--methods', nargs='+', choices=sorted(CONFIGS),
        default=['self_tuning', 'dmix_tuning'])
    args = parser.parse_args(argv)
    data_root = write_dataset(
        osp.join(args.work_dir, 'data'), args.classes, args.seed)
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    results = {}
    for method in args.methods:
        results[method] = run_config(
            method, data_root, osp.join(args.work_dir, method), args.epochs,
            args.classes, args.seed)
        print(method, json.dumps(results[method]))
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    print(f'chance: {100 / args.classes:.1f}%')
    return results


if __name__ == '__main__':
    main()
