"""Serve KaTeX from the built site and make its render server start reliably.

sphinxcontrib-katex with ``katex_prerender = True`` turns every formula into
HTML at build time by running KaTeX under node, so pages need only the KaTeX
stylesheet and fonts. This extension

* copies ``katex.min.css`` and ``fonts/`` from the pinned npm package
  (``docs/node_modules/katex/dist``) to ``_static/katex`` of the HTML output;
  ``conf.py`` points ``katex_css_path`` there, so no page loads a CDN;
* replaces sphinxcontrib-katex's server start-up, which connects once to the
  node server's socket as soon as the socket file exists. On a busy machine
  node may not be listening yet, the connect is refused, the build crashes,
  and the orphaned node server keeps the build's stderr open, so a pipeline
  reading it hangs. Here the connect is retried until the start-up timeout,
  and the server is killed if it never answers.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from sphinxcontrib import katex as _katex

# Generous limits for a loaded 2-core CI machine (the library's are 5 s each).
_katex.STARTUP_TIMEOUT = 60.0
_katex.RENDER_TIMEOUT = 60.0


def _start_server_process(cls, rundir, timeout):
    socket_path = Path(rundir) / "katex.sock"
    process = subprocess.Popen(
        cls.build_command(socket=socket_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=rundir,
    )
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            sock.connect(str(socket_path))
            sock.settimeout(None)
            return process, sock
        except (TimeoutError, FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise cls.timeout_error(timeout) from None
            time.sleep(0.01)


def _copy_assets(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    dist = Path(app.config.katex_dist)
    target = Path(app.outdir) / "_static" / "katex"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(dist / "katex.min.css", target / "katex.min.css")
    shutil.copytree(dist / "fonts", target / "fonts", dirs_exist_ok=True)


def setup(app):
    app.add_config_value("katex_dist", "", "html")
    if hasattr(_katex, "KaTeXServer") and hasattr(_katex.KaTeXServer, "start_server_process"):
        _katex.KaTeXServer.start_server_process = classmethod(_start_server_process)
    app.connect("build-finished", _copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
