"""Dynamic mixers: they use the classifier to build the mixed samples."""
__all__ = []
