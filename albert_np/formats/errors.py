"""The one error every checkpoint reader raises."""


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, or does not fit the config."""
