"""Starts the bundled wasm host for a Dify plugin package on the daemon's local runtime.

The daemon runs `<workdir>/.venv/bin/python -m main` with cwd = the extracted package, whose
files it wrote with mode 0644. This module (stdlib only) picks `bin/dify-wasm-<os>-<arch>` for
this machine, makes it executable (or a copy of it, when the package directory is read-only)
and replaces this process with `dify-wasm serve . --wasm plugin.wasm`, so that the host speaks
the stdio protocol directly on the daemon's pipes. Written by `dify-wasm package`.
"""

import os
import platform
import shutil
import stat
import sys
import tempfile

COMPONENT = "plugin.wasm"
ARCHES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
}


def fail(message, code):
    sys.stderr.write("dify-wasm shim: " + message + "\n")
    sys.stderr.flush()
    sys.exit(code)


def host_binary():
    system = platform.system().lower()
    machine = platform.machine().lower()
    arch = ARCHES.get(machine, machine)
    path = os.path.join("bin", "dify-wasm-%s-%s" % (system, arch))
    if not os.path.isfile(path):
        bundled = sorted(os.listdir("bin")) if os.path.isdir("bin") else []
        fail(
            "this package has no wasm host for %s/%s (looked for %s; it bundles: %s). "
            "Rebuild it with `dify-wasm package --host-binary %s-%s=PATH`."
            % (system, machine, path, ", ".join(bundled) or "none", system, arch),
            3,
        )
    return path


def executable(path):
    mode = os.stat(path).st_mode
    wanted = mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
    try:
        if mode != wanted:
            os.chmod(path, wanted)
        if os.access(path, os.X_OK):
            return os.path.abspath(path)
    except OSError:
        pass
    # A read-only package directory: run a private copy instead.
    copy_dir = tempfile.mkdtemp(prefix="dify-wasm-")
    copy = os.path.join(copy_dir, os.path.basename(path))
    try:
        shutil.copyfile(path, copy)
        os.chmod(copy, 0o755)
    except OSError as error:
        fail("cannot make %s executable: %s" % (path, error), 4)
    return copy


def main():
    if not os.path.isfile(COMPONENT):
        fail("no %s in %s: the package is incomplete" % (COMPONENT, os.getcwd()), 3)
    host = executable(host_binary())
    args = [host, "serve", ".", "--wasm", COMPONENT]
    if not os.environ.get("INSTALL_METHOD"):
        args += ["--install-method", "local"]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(host, args)
    except OSError as error:
        fail("cannot start %s: %s" % (host, error), 4)


if __name__ == "__main__":
    main()
