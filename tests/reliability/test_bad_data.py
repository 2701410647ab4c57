"""Corrupted or missing images and wrong data layouts are named."""
import io
import os
import os.path as osp

import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, TRANSFORMS
from PIL import Image

from dm_plugin.datasets.transforms import SafeLoadImageFromFile


def encoded(fmt: str) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 255, (16, 16, 3))
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


CORRUPTIONS = {
    'empty': lambda: b'',
    'not_an_image': lambda: b'this is a text file',
    'half_png': lambda: encoded('PNG')[:len(encoded('PNG')) // 2],
    'half_jpeg': lambda: encoded('JPEG')[:len(encoded('JPEG')) // 2],
    'png_header_only': lambda: encoded('PNG')[:30],
}


def write(path, data: bytes) -> str:
    with open(path, 'wb') as f:
        f.write(data)
    return str(path)


def test_good_image_loads_like_mmcv(image_folder):
    path = osp.join(image_folder, 'class_0', 'img_0.png')
    ours = SafeLoadImageFromFile()(dict(img_path=path))
    theirs = LoadImageFromFile()(dict(img_path=path))
    np.testing.assert_array_equal(ours['img'], theirs['img'])
    assert ours['img_shape'] == ours['ori_shape'] == (16, 16)


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
@pytest.mark.parametrize('corruption', list(CORRUPTIONS))
def test_corrupted_image_is_named(tmp_path, corruption, backend):
    path = write(tmp_path / 'bad.png', CORRUPTIONS[corruption]())
    load = SafeLoadImageFromFile(imdecode_backend=backend)
    with pytest.raises(ValueError, match=f'corrupted image file {path}'):
        load(dict(img_path=path))


def test_missing_and_unreadable_files_are_named(tmp_path):
    load = SafeLoadImageFromFile()
    missing = str(tmp_path / 'gone.png')
    with pytest.raises(FileNotFoundError,
                       match=f'image file not found: {missing}'):
        load(dict(img_path=missing))
    with pytest.raises(OSError, match=f'cannot read image file {tmp_path}'):
        load(dict(img_path=str(tmp_path)))  # a directory


def test_skip_bad_returns_none_and_counts(tmp_path):
    load = SafeLoadImageFromFile(skip_bad=True)
    bad = write(tmp_path / 'bad.png', b'')
    assert load(dict(img_path=bad)) is None
    assert load(dict(img_path=str(tmp_path / 'gone.png'))) is None
    assert load.num_skipped == 2


def test_skip_bad_must_be_bool():
    with pytest.raises(TypeError, match='skip_bad'):
        SafeLoadImageFromFile(skip_bad='yes')


def corrupted_run(runner_cfg, image_folder, skip_bad):
    bad = write(osp.join(image_folder, 'class_1', 'img_2.png'), b'\x00' * 64)
    cfg = runner_cfg(max_iters=3)  # 3 x 4 = all 12 images once
    cfg['train_dataloader']['dataset']['pipeline'][0] = dict(
        type='SafeLoadImageFromFile', skip_bad=skip_bad)
    cfg['val_cfg'] = cfg['val_dataloader'] = cfg['val_evaluator'] = None
    return Runner.from_cfg(cfg), bad


def test_training_fails_naming_the_corrupted_file(runner_cfg, image_folder):
    runner, bad = corrupted_run(runner_cfg, image_folder, skip_bad=False)
    with pytest.raises(ValueError, match=f'corrupted image file {bad}'):
        runner.train()


def test_training_skips_the_corrupted_file(runner_cfg, image_folder):
    runner, _ = corrupted_run(runner_cfg, image_folder, skip_bad=True)
    runner.train()
    assert runner.iter == 3
    load = runner.train_dataloader.dataset.pipeline.transforms[0]
    assert load.num_skipped >= 1  # then mmengine drew another index


def test_stock_loader_names_the_file(runner_cfg, image_folder):
    """The *_folder configs use the stock ``LoadImageFromFile``, whose cv2
    decoder fails on an empty image with ``!buf.empty()`` alone."""
    bad = write(osp.join(image_folder, 'class_1', 'img_2.png'), b'')
    cfg = runner_cfg(max_iters=3)
    pipeline = cfg['train_dataloader']['dataset']['pipeline']
    assert pipeline[0] == dict(type='LoadImageFromFile')
    cfg['val_cfg'] = cfg['val_dataloader'] = cfg['val_evaluator'] = None
    with pytest.raises(ValueError, match=f'corrupted image file {bad}'):
        Runner.from_cfg(cfg).train()


def test_stock_loader_keeps_mmcv_arguments_and_results(tmp_path,
                                                        image_folder):
    path = osp.join(image_folder, 'class_0', 'img_0.png')
    stock = TRANSFORMS.build(dict(type='LoadImageFromFile', to_float32=True,
                                  color_type='grayscale'))
    mmcv_own = LoadImageFromFile(to_float32=True, color_type='grayscale')
    ours, theirs = stock(dict(img_path=path)), mmcv_own(dict(img_path=path))
    assert ours['img'].dtype == np.float32
    np.testing.assert_array_equal(ours['img'], theirs['img'])
    skip = TRANSFORMS.build(dict(type='LoadImageFromFile', ignore_empty=True))
    assert skip(dict(img_path=write(tmp_path / 'bad.png', b''))) is None


def build(**dataset):
    return DATASETS.build(dict(type='CustomDataset', **dataset))


def test_wrong_data_layouts_name_what_is_missing(tmp_path, image_folder):
    missing_root = str(tmp_path / 'no_data')
    with pytest.raises(FileNotFoundError, match=missing_root):
        build(data_root=missing_root)
    flat = tmp_path / 'flat'  # images without class folders
    flat.mkdir()
    write(flat / 'a.png', encoded('PNG'))
    with pytest.raises(RuntimeError,
                       match=f'Found 0 files in subfolders of.*{flat}'):
        build(data_root=str(flat))
    with pytest.raises(FileNotFoundError, match='meta/train.txt'):
        build(data_root=image_folder, ann_file='meta/train.txt')


def test_annotation_listing_a_missing_image_names_it(runner_cfg, image_folder):
    os.makedirs(osp.join(image_folder, 'meta'))
    with open(osp.join(image_folder, 'meta', 'train.txt'), 'w') as f:
        f.write('class_0/img_0.png 0\nclass_1/img_0.png 1\n'
                'class_2/img_0.png 2\nclass_0/img_9.png 0\n')
    cfg = runner_cfg(max_iters=1, batch_size=4)
    dataset = cfg['train_dataloader']['dataset']
    dataset.update(ann_file='meta/train.txt', data_prefix='',
                   classes=['a', 'b', 'c'])
    dataset['pipeline'][0] = dict(type='SafeLoadImageFromFile')
    cfg['val_cfg'] = cfg['val_dataloader'] = cfg['val_evaluator'] = None
    with pytest.raises(FileNotFoundError,
                       match=r'image file not found: .*class_0/img_9\.png'):
        Runner.from_cfg(cfg).train()
