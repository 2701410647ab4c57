"""Image loading that names unreadable files, or skips them."""
import logging
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmengine.logging import print_log
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SafeLoadImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` with errors that name the file, and an option
    to skip bad files during training.

    mmcv's loader reports an undecodable file with an ``AssertionError``
    (gone under ``python -O``) and re-raises decoder errors that do not name
    the file. Here a missing file raises ``FileNotFoundError``, an unreadable
    one ``OSError`` and a corrupted one (empty, truncated, not an image)
    ``ValueError``, each naming the path.

    With ``skip_bad=True`` a bad file is logged (path and reason) and counted
    (``num_skipped``, per data-loader worker), and the transform returns
    ``None``: mmengine's dataset then draws another random index in training
    (up to its ``max_refetch`` times). Validation and test datasets do not
    retry and fail on ``None``, so keep ``skip_bad`` off in their pipelines.

    Args:
        skip_bad (bool): Skip bad files instead of raising. Defaults to False.
        to_float32 (bool): Return a float32 image. Defaults to False.
        color_type (str): ``flag`` of :func:`mmcv.imfrombytes`.
            Defaults to ``'color'``.
        imdecode_backend (str): ``backend`` of :func:`mmcv.imfrombytes`.
            Defaults to ``'cv2'``.
        backend_args (dict, optional): File backend arguments.

    Required keys: ``img_path``. Added keys: ``img`` (H, W, C) or (H, W),
    ``img_shape``, ``ori_shape``.
    """

    def __init__(self,
                 skip_bad: bool = False,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None):
        if not isinstance(skip_bad, bool):
            raise TypeError(f'skip_bad must be a bool, got {skip_bad!r}')
        super().__init__(
            to_float32=to_float32,
            color_type=color_type,
            imdecode_backend=imdecode_backend,
            backend_args=backend_args)
        self.skip_bad = skip_bad
        self.num_skipped = 0

    def read_image(self, path: str) -> np.ndarray:
        """Read and decode ``path``; raise naming it if that fails."""
        try:
            img_bytes = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError:
            raise FileNotFoundError(f'image file not found: {path}') from None
        except OSError as error:
            raise OSError(f'cannot read image file {path}: {error}') from error
        try:
            img = mmcv.imfrombytes(
                img_bytes, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as error:  # decoders raise types of their own
            raise ValueError(f'corrupted image file {path}: '
                             f'{type(error).__name__}: {error}') from error
        if img is None:
            raise ValueError(f'corrupted image file {path}: '
                             f'{self.imdecode_backend} cannot decode it')
        return img

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            img = self.read_image(path)
        except (OSError, ValueError) as error:
            if not self.skip_bad:
                raise
            self.num_skipped += 1
            print_log(
                f'skipping a bad image ({error}); {self.num_skipped} skipped '
                'by this data-loader worker',
                logger='current',
                level=logging.WARNING)
            return None
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(skip_bad={self.skip_bad}, '
                f'to_float32={self.to_float32}, '
                f'color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r}, '
                f'backend_args={self.backend_args})')
