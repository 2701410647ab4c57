"""Time one training step of a CIFAR ResNet-18 under each mixer, with soft
cross-entropy and with the Decoupled Mixup loss.

    python tools/benchmark_step.py [--device cpu|cuda] [--repeats 20]
        [--warmup 3] [--batch-size 64] [--mixers NAME ...] [--threads N]
        [--out FILE.md]

A step is ``MixupClassifier.train_step`` (normalization, mixing, forward,
loss, backward, SGD update) of mmpretrain's ResNet_CIFAR-18 + global average
pooling + linear head on a 32x32 batch: no mixing; every mixer registered in
``dm_plugin.registry.MIXERS`` (and the ``VARIANTS`` rows: PuzzleMix with
its other labeling solvers) with mmpretrain's soft CrossEntropyLoss
(``use_soft=True``); and with DecoupledMixupLoss(eta=0.1) in DMClsHead
("+ DM"). Static mixers are also timed alone (the mixer call on the
normalized batch), and so are the two losses (forward + backward on the
logits): on a busy machine these small, direct timings show a component's
cost better than a difference of two noisy step medians.

All variants run interleaved, one step each per round, the round's order
rotated, so drifts in machine load hit them alike; the table gives medians
over ``--repeats`` rounds after ``--warmup`` rounds, and ratios to plain
Mixup + soft CE. The targets: "+ DM" adds <= 2% to a step; a static mixer
costs <= 5% of a step.
"""
import argparse
import os.path as osp
import statistics
import sys
import time
from functools import partial

import torch
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import dm_plugin  # noqa: E402,F401  (registers mixers, models)
from dm_plugin.registry import MIXERS, build_mixer  # noqa: E402

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from visualize_mixers import KNOWN_ORDER, RESNET18_CIFAR_ARGS  # noqa: E402

NUM_CLASSES = 10
HEADS = {
    'soft CE':
    dict(
        type='LinearClsHead',
        num_classes=NUM_CLASSES,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', use_soft=True)),
    'DM':
    dict(
        type='DMClsHead',
        num_classes=NUM_CLASSES,
        in_channels=512,
        loss=dict(type='DecoupledMixupLoss', eta=0.1)),
}


# Rows of a registered mixer with other settings: label -> mixer config
# (the 'PuzzleMix' row is its default, alpha-beta swap graph cuts).
VARIANTS = {
    'PuzzleMix (exact)': dict(type='PuzzleMix', solver='exact'),
    'PuzzleMix (ICM)': dict(type='PuzzleMix', solver='icm'),
}


def mixer_kind(name: str) -> str:
    module = MIXERS.get(mixer_cfg(name)['type']).__module__
    return 'dynamic' if '.dynamic.' in module else 'static'


def mixer_cfg(name: str) -> dict:
    if name in VARIANTS:
        return dict(VARIANTS[name])
    return dict(type=name, **RESNET18_CIFAR_ARGS.get(name, {}))


def build_model(mixer, head: str, device: str):
    """ResNet_CIFAR-18 MixupClassifier with a fresh SGD optimizer."""
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='MixupClassifier',
            data_preprocessor=dict(
                type='ClsDataPreprocessor',
                num_classes=NUM_CLASSES,
                mean=[125.307, 122.961, 113.8575],
                std=[51.5865, 50.847, 51.255]),
            backbone=dict(type='ResNet_CIFAR', depth=18),
            neck=dict(type='GlobalAveragePooling'),
            head=HEADS[head],
            mixer=mixer)).to(device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    return model, OptimWrapper(optimizer)


def synchronize(device: str):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def make_variants(names, device):
    """{label: (kind, mixer name or None, head, model, optim_wrapper)}."""
    variants = {'no mixing': ('none', None, 'soft CE') +
                build_model(None, 'soft CE', device)}
    for name in names:
        for head in HEADS:
            label = name if head == 'soft CE' else f'{name} + DM'
            variants[label] = (mixer_kind(name), name, head) + build_model(
                mixer_cfg(name), head, device)
    return variants


def time_call(function, device) -> float:
    synchronize(device)
    start = time.perf_counter()
    function()
    synchronize(device)
    return time.perf_counter() - start


def components(names, normalized, one_hot, device):
    """What is timed alone: each static mixer on the normalized batch, and
    each head's loss (forward + backward) on (N, 10) logits with Mixup
    scores."""
    calls = {
        f'{name} alone': partial(build_mixer(mixer_cfg(name)), normalized,
                                 one_hot)
        for name in names
        if mixer_kind(name) == 'static'
        and not MIXERS.get(mixer_cfg(name)['type']).needs_model
    }
    logits = torch.randn(
        len(one_hot), NUM_CLASSES, device=device, requires_grad=True)
    _, scores = build_mixer(dict(type='Mixup'))(normalized, one_hot)

    def loss_step(loss):
        loss(logits, scores).backward()

    for head, cfg in HEADS.items():
        calls[f'{head} loss'] = partial(loss_step, MODELS.build(cfg['loss']))
    return calls


def benchmark(names, device, batch_size, repeats, warmup):
    """Median seconds of a step of each variant, and of each component
    alone."""
    torch.manual_seed(0)
    images = torch.randint(
        0, 256, (batch_size, 3, 32, 32), device=device).float()
    labels = torch.randint(NUM_CLASSES, (batch_size, )).tolist()
    variants = make_variants(names, device)
    data_preprocessor = variants['no mixing'][3].data_preprocessor
    normalized = data_preprocessor(dict(inputs=images), False)['inputs']
    one_hot = torch.eye(NUM_CLASSES, device=device)[labels]
    calls = components(names, normalized, one_hot, device)
    times = {label: [] for label in [*variants, *calls]}
    order = list(variants)
    for round_ in range(warmup + repeats):
        shift = round_ % len(order)
        for label in order[shift:] + order[:shift]:
            _, _, _, model, optim_wrapper = variants[label]
            data = dict(
                inputs=images,
                data_samples=[DataSample().set_gt_label(y) for y in labels])
            seconds = time_call(
                partial(model.train_step, data, optim_wrapper), device)
            if round_ >= warmup:
                times[label].append(seconds)
        for label, call in calls.items():
            seconds = time_call(call, device)
            if round_ >= warmup:
                times[label].append(seconds)
    median = {label: statistics.median(t) for label, t in times.items()}
    return variants, median


def table(names, variants, median) -> str:
    plain = median['no mixing']
    base = median.get('Mixup', plain)
    lines = [
        '| mixer | kind | step, soft CE (ms) | step, + DM (ms) | DM adds | '
        'vs Mixup + soft CE | vs no mixing | mixer alone (ms, % of step) |',
        '|---|---|---:|---:|---:|---:|---:|---:|',
        f'| no mixing | - | {plain * 1e3:.1f} | - | - | {plain / base:.3f} | '
        '1.000 | - |',
    ]
    for name in names:
        ce, dm = median[name], median[f'{name} + DM']
        alone = median.get(f'{name} alone')
        alone = '-' if alone is None else \
            f'{alone * 1e3:.2f} ({alone / plain:.1%})'
        lines.append(
            f'| {name} | {variants[name][0]} | {ce * 1e3:.1f} | '
            f'{dm * 1e3:.1f} | {dm / ce - 1:+.1%} | {ce / base:.3f} | '
            f'{ce / plain:.3f} | {alone} |')
    soft_ce, dm_loss = median['soft CE loss'], median['DM loss']
    lines.append(
        f'\nLoss alone (forward + backward on the logits): soft CE '
        f'{soft_ce * 1e3:.2f} ms, DM {dm_loss * 1e3:.2f} ms; DM adds '
        f'{(dm_loss - soft_ce) * 1e3:.2f} ms, '
        f'{(dm_loss - soft_ce) / plain:.2%} of a plain step.')
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument(
        '--mixers', nargs='+', help='mixer names (default: all registered)')
    parser.add_argument(
        '--threads', type=int, help='torch CPU threads (default: torch\'s)')
    parser.add_argument('--out', help='also write the table to this file')
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0 or args.batch_size < 2:
        parser.error('need --repeats >= 1, --warmup >= 0, --batch-size >= 2')
    known = [n for n in KNOWN_ORDER if n in MIXERS.module_dict]
    registered = known + sorted(set(MIXERS.module_dict) - set(known))
    rows = registered + list(VARIANTS)
    names = args.mixers or rows
    unknown = sorted(set(names) - set(rows))
    if unknown:
        parser.error(f'unknown mixers {unknown}; registered: {rows}')
    if 'Mixup' not in names:
        names = ['Mixup'] + names  # the baseline of the ratios
    if args.threads:
        torch.set_num_threads(args.threads)
    variants, median = benchmark(names, args.device, args.batch_size,
                                 args.repeats, args.warmup)
    device = (torch.cuda.get_device_name(args.device)
              if args.device.startswith('cuda') else
              f'CPU, {torch.get_num_threads()} threads')
    header = (f'ResNet_CIFAR-18, batch {args.batch_size}x3x32x32, {device}, '
              f'torch {torch.__version__}; median of {args.repeats} '
              f'interleaved steps after {args.warmup} warm-up rounds')
    report = f'{header}\n\n{table(names, variants, median)}\n'
    print(report)
    if args.out:
        with open(args.out, 'w') as file:
            file.write(report)


if __name__ == '__main__':
    main()
