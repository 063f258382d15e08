"""The code that runs inside the sandbox: the zygote (``zygote_main``, started by path from
``runtime/zygote.py``), what it forks into (``bootstrap``, ``snapshot``, ``exec_runtime``), the kernel
interfaces it confines them with (``linux``, ``seccomp``, ``landlock``, ``scratch``), the frames it
speaks to the supervisor (``protocol``), the Node.js bootstrap (``node/``) and the modules functions
may import (``site/``). These import only the standard library and each other, and this file
imports nothing: the zygote pays for every import at each fork."""
