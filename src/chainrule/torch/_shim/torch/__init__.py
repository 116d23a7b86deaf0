"""Stand-in for 'torch' on the path of a ``python -m chainrule.torch`` process's spawned children.

Importing it installs chainrule.torch as 'torch' (and the finder for 'torch.X') and replaces
itself in ``sys.modules``, so the import that found it returns chainrule.torch.
"""

from chainrule.torch._alias import install

install()
