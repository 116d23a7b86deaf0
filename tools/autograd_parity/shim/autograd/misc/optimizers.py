"""autograd.misc.optimizers: autograd's own file, run from the downloaded sdist (not copied)."""

from autograd._shim import exec_sdist

exec_sdist("autograd/misc/optimizers.py", globals())
