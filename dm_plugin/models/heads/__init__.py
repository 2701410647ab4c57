from .dm_cls_head import DMClsHead

__all__ = ['DMClsHead']
