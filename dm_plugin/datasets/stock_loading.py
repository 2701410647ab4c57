"""mmpretrain's ``LoadImageFromFile``, with errors that name the file."""
from typing import Optional

from mmpretrain.registry import TRANSFORMS

from .transforms import SafeLoadImageFromFile


@TRANSFORMS.register_module(name='LoadImageFromFile', force=True)
class LoadImageFromFileNamingPath(SafeLoadImageFromFile):
    """What ``dict(type='LoadImageFromFile')`` builds in mmpretrain's scope
    once dm-plugin is imported: mmcv's loader, with its arguments and
    results, whose errors name the file as :class:`SafeLoadImageFromFile`'s
    do. mmcv's cv2 decoder reports an empty image with ``(-215:Assertion
    failed) !buf.empty()`` alone, so a corrupted file among millions could
    not be found. ``ignore_empty=True`` returns ``None`` for a bad file, as
    mmcv's does (and logs the path).

    mmcv's deprecated ``file_client_args`` is refused: use ``backend_args``.
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 file_client_args: Optional[dict] = None,
                 ignore_empty: bool = False,
                 *,
                 backend_args: Optional[dict] = None):
        if file_client_args is not None:
            raise TypeError(
                'LoadImageFromFile: file_client_args is deprecated since '
                'mmcv 2.0; give the same settings as backend_args')
        super().__init__(
            skip_bad=ignore_empty,
            to_float32=to_float32,
            color_type=color_type,
            imdecode_backend=imdecode_backend,
            backend_args=backend_args)
