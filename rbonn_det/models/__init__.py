from . import layers  # noqa: F401  (registration)
