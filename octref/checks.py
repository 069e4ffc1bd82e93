"""The argument checks every public function shares: ints, real numbers, arrays.

Each check raises a ``TypeError`` or ``ValueError`` that names the argument
and says what was expected, and returns the value in its canonical Python
type. Every module of octref that validates a scalar calls these, so "is it an
int" is decided in one place (``True`` is not an int here, ``np.int64(3)`` is).
"""

import math

import numpy as np

__all__ = ["check_int", "check_real", "check_alpha", "check_pair", "check_choice",
           "check_bool", "real_array"]


def check_int(value, name, minimum=None):
    """``value`` as a Python int, or a TypeError / ValueError naming ``name``.

    Parameters
    ----------
    value : object
        Accepted: ``int`` and NumPy integers; not ``bool``, floats or strings.
    name : str
        The argument's name, for the message.
    minimum : int, optional
        Smallest accepted value.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(value, name, *, minimum=None, maximum=None):
    """``value`` as a finite Python float (ints accepted), or an error naming ``name``.

    ``-0.0`` comes back as ``0.0``, so that nothing prints "-0".
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value + 0.0


def check_alpha(value, name="alpha"):
    """A low-frequency ratio: a real number in [0, 1], as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number in [0, 1], got {type(value).__name__}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return float(value) + 0.0


def check_pair(value, name, minimum):
    """An int or a pair of ints, each >= ``minimum``, as a tuple (rows, cols)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        pair = (check_int(value[0], name), check_int(value[1], name))
    else:
        pair = (check_int(value, name),) * 2
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


def check_choice(value, name, choices):
    """``value`` if it is one of ``choices`` (compared as exact strings), else a ValueError."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_bool(value, name):
    """``value`` if it is exactly True or False (not 0, 1 or "no")."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def real_array(value, name):
    """``value`` as an ndarray of a real numeric dtype (float, int or bool), or a TypeError."""
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a real numeric array, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real numeric array: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must have a real numeric dtype (float, int or bool), "
                        f"got dtype {array.dtype}")
    return array
