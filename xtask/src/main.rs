//! `xtask componentize IN.wasm OUT.wasm`: wraps a core module built by
//! wit-bindgen for `wasm32-unknown-unknown` into a component. No WASI adapter
//! is added: a plugin that needs one is refused by the host anyway.

use anyhow::{bail, Context, Result};
use std::path::Path;
use wit_component::ComponentEncoder;

fn componentize(input: &Path, output: &Path) -> Result<()> {
    let module = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let component = ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .with_context(|| format!("{} carries no nix2dream component type (was it built with the plugin kit?)", input.display()))?
        .encode()
        .with_context(|| format!("turning {} into a component", input.display()))?;
    // Write beside the target then rename, so a half-written plugin never exists.
    let tmp = output.with_extension("wasm.tmp");
    std::fs::write(&tmp, component).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, output).with_context(|| format!("writing {}", output.display()))?;
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, input, output] if cmd == "componentize" => componentize(Path::new(input), Path::new(output)),
        _ => bail!("usage: xtask componentize IN.wasm OUT.wasm"),
    }
}
