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
import traceback

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
        try:
            return procfile(deployment)
        except Err:
            raise
        except BaseException:
            # An exception traps the component, which says nothing by itself:
            # host.report leaves the traceback for the host to show.
            host.report(traceback.format_exc())
            raise


def procfile(deployment: Deployment) -> Rendered:
    lines = []
    for s in deployment.services:
        values = [("process.argv", a) for a in s.argv] + [("env", v.value) for v in s.env]
        for option, value in values:
            if "\n" in value:
                # A failure is an Err of diagnostics, naming service and option.
                raise Err([Diagnostic(Severity.ERROR, s.name, option, "a Procfile line cannot hold a newline")])
        env = "".join(f"{v.name}={shlex.quote(v.value)} " for v in s.env)
        lines.append(f"{s.name}: {'env ' + env if env else ''}{shlex.join(s.argv)}\n")
    text = "".join(lines).encode()
    return Rendered(artifacts=[Artifact_File(File("Procfile", text, False))], diagnostics=[])
