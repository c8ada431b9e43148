"""A nix2dream manager plugin in Python: a Procfile (honcho, foreman).

Built with componentize-py against the contract (wit/v0.4.0), with every
WASI import replaced by a trapping stub (--stub-wasi), since the host gives
plugins no WASI:

    componentize-py -d ../../wit/v0.4.0 -w manager componentize app --stub-wasi -o py-procfile.wasm

The component embeds CPython (about 18 MB): render with
--plugin-size-limit 32. Its first load compiles it (about half a minute);
the compiled-plugin cache makes later loads fast.
"""

import shlex

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.plugin import (
    Addressing,
    Artifact_File,
    Deployment,
    Diagnostic,
    File,
    PluginInfo,
    Rendered,
    Severity,
)
from wit_world.imports import host


class Plugin(exports.Plugin):
    def info(self) -> PluginInfo:
        return PluginInfo(
            name="py-procfile",
            version="0.1.0",
            description="a Procfile, written by a Python plugin",
            # Only what the render honours: the host warns about the rest.
            supported_options=["process.argv", "env"],
            settings_schema="",
            usage="cd OUT && honcho start",
            addressing=Addressing.LOOPBACK,
        )

    def render(self, deployment: Deployment) -> Rendered:
        lines = []
        for s in deployment.services:
            if not s.argv:
                # A failure is an Err of diagnostics, naming service and option.
                raise Err([Diagnostic(Severity.ERROR, s.name, "process.argv", "empty argv")])
            if "\n" in s.name:
                # host.report: a message the host shows if the call fails.
                host.report(f"service name {s.name!r} cannot be a Procfile key")
            env = "".join(f"{v.name}={shlex.quote(v.value)} " for v in s.env)
            lines.append(f"{s.name}: {'env ' + env if env else ''}{shlex.join(s.argv)}\n")
        procfile = "".join(lines).encode()
        return Rendered(artifacts=[Artifact_File(File("Procfile", procfile, False))], diagnostics=[])
