"""The one error of the data wing: data that cannot be used, with what to do about it."""


class DataError(ValueError):
    """Data that cannot be used for training, with what to do about it."""
