//! Evaluating a user's `services.nix` with Nix into the deployment JSON
//! (`docs/deployment-json.md`), and generating the option reference.
//!
//! The work is done by `nix-instantiate --eval --strict --json` on the files
//! in the repository's `nix/` directory (`eval-file.nix`, `options-doc.nix`),
//! with nixpkgs' `lib/` found through [`find_nixpkgs`]. Failures become
//! errors saying what failed and what to do: Nix missing, nixpkgs missing,
//! an evaluation error (Nix's own message, with file and line), or failed
//! assertions (each listed).

use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

/// Environment variable naming the nixpkgs to use (after `--nixpkgs`).
pub const NIXPKGS_ENV: &str = "NIX2DREAM_NIXPKGS";
/// Environment variable naming the directory holding `eval-file.nix`.
pub const NIX_DIR_ENV: &str = "NIX2DREAM_NIX_DIR";

const HOW_TO_PROVIDE_NIXPKGS: &str =
    "provide nixpkgs (a checkout, or anything with its lib/ folder) in one of three ways:\n  \
     --nixpkgs PATH\n  \
     NIX2DREAM_NIXPKGS=PATH in the environment\n  \
     <nixpkgs> on the Nix search path, e.g. NIX_PATH=nixpkgs=PATH";

const HOW_TO_INSTALL_NIX: &str =
    "install Nix (e.g. `apt-get install nix-bin`, or see https://nixos.org/download) so that `nix-instantiate` is on PATH";

/// Where Nix evaluation looks for nixpkgs: the `--nixpkgs` flag, if any.
/// Everything else is found by [`find_nixpkgs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NixEnv {
    pub nixpkgs: Option<PathBuf>,
}

impl NixEnv {
    pub fn new(nixpkgs: Option<PathBuf>) -> Self {
        NixEnv { nixpkgs }
    }

    /// See [`evaluate_file`].
    pub fn evaluate_file(&self, services_nix: &Path) -> Result<Value> {
        evaluate_file(services_nix, self.nixpkgs.as_deref())
    }

    /// See [`options_json`].
    pub fn options_json(&self) -> Result<Value> {
        options_json(self.nixpkgs.as_deref())
    }
}

/// The nixpkgs used for evaluation and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NixpkgsSource {
    /// `--nixpkgs PATH`.
    Flag(PathBuf),
    /// `NIX2DREAM_NIXPKGS`.
    EnvVar(PathBuf),
    /// `<nixpkgs>` on the Nix search path (`NIX_PATH`, nix.conf).
    NixPath(PathBuf),
}

impl NixpkgsSource {
    /// The nixpkgs root: the directory holding `lib/default.nix`.
    pub fn path(&self) -> &Path {
        match self {
            NixpkgsSource::Flag(p) | NixpkgsSource::EnvVar(p) | NixpkgsSource::NixPath(p) => p,
        }
    }

    /// Where it came from, for messages.
    pub fn origin(&self) -> &'static str {
        match self {
            NixpkgsSource::Flag(_) => "--nixpkgs",
            NixpkgsSource::EnvVar(_) => NIXPKGS_ENV,
            NixpkgsSource::NixPath(_) => "<nixpkgs> on the Nix search path",
        }
    }
}

impl fmt::Display for NixpkgsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {})", self.path().display(), self.origin())
    }
}

/// Find nixpkgs: the `--nixpkgs` flag, else `NIX2DREAM_NIXPKGS`, else
/// `<nixpkgs>` on the Nix search path. The path must hold `lib/default.nix`
/// (a path to the `lib/` folder itself is accepted too).
pub fn find_nixpkgs(flag: Option<&Path>) -> Result<NixpkgsSource> {
    if let Some(p) = flag {
        let root = nixpkgs_root(p).with_context(|| format!("--nixpkgs {}", p.display()))?;
        return Ok(NixpkgsSource::Flag(root));
    }
    if let Some(v) = std::env::var_os(NIXPKGS_ENV).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        let root = nixpkgs_root(&p).with_context(|| format!("{NIXPKGS_ENV}={}", p.display()))?;
        return Ok(NixpkgsSource::EnvVar(root));
    }
    let out = nix_instantiate()
        .args(["--eval", "--json", "-E", "toString <nixpkgs>"])
        .output()
        .map_err(spawn_error)?;
    if !out.status.success() {
        let why = clean_nix_error(&String::from_utf8_lossy(&out.stderr));
        bail!(
            "nixpkgs not found: --nixpkgs is not given, {NIXPKGS_ENV} is not set, and <nixpkgs> is not on the Nix search path ({})\n{HOW_TO_PROVIDE_NIXPKGS}",
            first_line(&why)
        );
    }
    let found: String = serde_json::from_slice(&out.stdout)
        .context("reading the answer of `nix-instantiate --eval -E 'toString <nixpkgs>'`")?;
    let p = PathBuf::from(found);
    if !p.join("lib/default.nix").is_file() {
        bail!(
            "<nixpkgs> on the Nix search path is {}, which has no lib/default.nix\n{HOW_TO_PROVIDE_NIXPKGS}",
            p.display()
        );
    }
    Ok(NixpkgsSource::NixPath(p))
}

/// The nixpkgs root for a user-given path: the path itself when it holds
/// `lib/default.nix`, its parent when it is that `lib/` folder.
fn nixpkgs_root(p: &Path) -> Result<PathBuf> {
    if !p.exists() {
        bail!("{} does not exist\n{HOW_TO_PROVIDE_NIXPKGS}", p.display());
    }
    let p = p
        .canonicalize()
        .with_context(|| format!("resolving {}", p.display()))?;
    if p.join("lib/default.nix").is_file() {
        return Ok(p);
    }
    if p.join("default.nix").is_file() && p.join("modules.nix").is_file() {
        if let Some(parent) = p.parent() {
            if p.file_name().is_some_and(|n| n == "lib") {
                return Ok(parent.to_path_buf());
            }
        }
    }
    bail!(
        "{} is not nixpkgs: it has no lib/default.nix (nix2dream needs nixpkgs' lib/, e.g. a nixpkgs checkout)",
        p.display()
    )
}

/// The directory holding nix2dream's Nix files (`eval-file.nix`, …):
/// `NIX2DREAM_NIX_DIR`, else `<exe dir>/../share/nix2dream/nix`, else the
/// source tree's `nix/`.
pub fn nix_dir() -> Result<PathBuf> {
    let mut tried = Vec::new();
    if let Some(v) = std::env::var_os(NIX_DIR_ENV).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        if p.join("eval-file.nix").is_file() {
            return Ok(p);
        }
        bail!(
            "{NIX_DIR_ENV}={} has no eval-file.nix; point it at nix2dream's nix/ directory",
            p.display()
        );
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            let p = dir.join("../share/nix2dream/nix");
            if p.join("eval-file.nix").is_file() {
                return Ok(p);
            }
            tried.push(p);
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nix");
    if src.join("eval-file.nix").is_file() {
        return Ok(src);
    }
    tried.push(src);
    Err(anyhow!(
        "nix2dream's Nix files (eval-file.nix) not found; tried {}. Set {NIX_DIR_ENV} to the nix/ directory of nix2dream",
        tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The result of an evaluation: the deployment and the warnings Nix printed
/// while producing it (`lib.warn`, the modules' `warnings`).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub deployment: Value,
    pub warnings: Vec<String>,
}

/// Evaluate `services_nix` (a module) to the deployment JSON. Warnings are
/// printed to stderr; see [`evaluate_file_with_warnings`] to get them.
pub fn evaluate_file(services_nix: &Path, nixpkgs_flag: Option<&Path>) -> Result<Value> {
    let ev = evaluate_file_with_warnings(services_nix, nixpkgs_flag)?;
    for w in &ev.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ev.deployment)
}

/// Evaluate `services_nix` (a module) to the deployment JSON, returning the
/// warnings Nix printed.
pub fn evaluate_file_with_warnings(
    services_nix: &Path,
    nixpkgs_flag: Option<&Path>,
) -> Result<Evaluation> {
    if !services_nix.is_file() {
        bail!(
            "{}: no such file (expected a Nix module defining `name` and `services.<name>`)",
            services_nix.display()
        );
    }
    let file = services_nix
        .canonicalize()
        .with_context(|| format!("resolving {}", services_nix.display()))?;
    let file_str = file
        .to_str()
        .ok_or_else(|| anyhow!("{}: the path is not valid UTF-8", file.display()))?;
    let nixpkgs = find_nixpkgs(nixpkgs_flag)?;
    let dir = nix_dir()?;
    let mut cmd = nix_instantiate();
    cmd.args(["--eval", "--strict", "--json", "--read-write-mode"])
        .arg("-I")
        .arg(nixpkgs_arg(&nixpkgs))
        .arg(dir.join("eval-file.nix"))
        .args(["--argstr", "file", file_str]);
    let (stdout, warnings) =
        run(cmd).map_err(|e| e.into_error(&services_nix.display().to_string(), &nixpkgs))?;
    let deployment = serde_json::from_str(&stdout).with_context(|| {
        format!(
            "evaluating {}: nix-instantiate printed something that is not JSON",
            services_nix.display()
        )
    })?;
    Ok(Evaluation {
        deployment,
        warnings,
    })
}

/// Every core option, as documented in the Nix declarations: the list
/// produced by `nix/options-doc.nix`.
pub fn options_json(nixpkgs_flag: Option<&Path>) -> Result<Value> {
    let nixpkgs = find_nixpkgs(nixpkgs_flag)?;
    let dir = nix_dir()?;
    let mut cmd = nix_instantiate();
    cmd.args(["--eval", "--strict", "--json"])
        .arg("-I")
        .arg(nixpkgs_arg(&nixpkgs))
        .arg(dir.join("options-doc.nix"));
    let (stdout, _warnings) =
        run(cmd).map_err(|e| e.into_error("nix/options-doc.nix", &nixpkgs))?;
    serde_json::from_str(&stdout).context("reading the options JSON printed by nix-instantiate")
}

fn nixpkgs_arg(n: &NixpkgsSource) -> std::ffi::OsString {
    let mut s = std::ffi::OsString::from("nixpkgs=");
    s.push(n.path());
    s
}

fn nix_instantiate() -> Command {
    let mut c = Command::new("nix-instantiate");
    // Running as root without a `nixbld` group (a plain `apt-get install
    // nix-bin`) must not fail or warn.
    c.args(["--option", "build-users-group", ""]);
    c
}

fn spawn_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == ErrorKind::NotFound {
        anyhow!("`nix-instantiate` not found: {HOW_TO_INSTALL_NIX}")
    } else {
        anyhow!("running nix-instantiate: {e}")
    }
}

enum RunError {
    Spawn(anyhow::Error),
    Failed(String),
}

impl RunError {
    fn into_error(self, what: &str, nixpkgs: &NixpkgsSource) -> anyhow::Error {
        match self {
            RunError::Spawn(e) => e,
            RunError::Failed(stderr) => nix_failure(what, &stderr, nixpkgs),
        }
    }
}

/// Run nix-instantiate: stdout and the warnings on success. Its stdout is
/// ignored on failure (it may hold half a JSON document).
fn run(mut cmd: Command) -> std::result::Result<(String, Vec<String>), RunError> {
    let out = cmd.output().map_err(|e| RunError::Spawn(spawn_error(e)))?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(RunError::Failed(stderr));
    }
    let stdout = String::from_utf8(out.stdout)
        .map_err(|_| RunError::Failed("nix-instantiate printed invalid UTF-8".into()))?;
    Ok((stdout, nix_warnings(&stderr)))
}

/// The error for a failed nix-instantiate run on `what`.
fn nix_failure(what: &str, stderr: &str, nixpkgs: &NixpkgsSource) -> anyhow::Error {
    if let Some(failed) = failed_assertions(stderr) {
        let n = failed.len();
        let list: String = failed.iter().map(|m| format!("\n- {m}")).collect();
        return anyhow!(
            "{what}: {n} failed assertion{}:{list}",
            if n == 1 { "" } else { "s" }
        );
    }
    let msg = clean_nix_error(stderr);
    if msg.contains("was not found in the Nix search path") && msg.contains("'nixpkgs") {
        return anyhow!(
            "evaluating {what}: nixpkgs {nixpkgs} could not be used: {}\n{HOW_TO_PROVIDE_NIXPKGS}",
            first_line(&msg)
        );
    }
    anyhow!("evaluating {what} failed:\n{msg}")
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
}

/// Remove ANSI colour sequences.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

fn is_noise(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("(use '--show-trace'")
        || t.starts_with("trace: ")
        || t.starts_with("evaluation warning: ")
        || (t.starts_with("warning: ") && t.contains("build-users-group"))
        || (t.starts_with("warning: the group") && t.contains("does not exist"))
}

/// Nix's error message without noise: colours, trace and warning lines, the
/// `--show-trace` hint, the leading `error: ` and its 7-space indentation.
/// File, line and code frame are kept.
pub fn clean_nix_error(stderr: &str) -> String {
    let text = strip_ansi(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !is_noise(l)).collect();
    let mut out = Vec::with_capacity(lines.len());
    for l in lines {
        let l = l.trim_end();
        if let Some(rest) = l.strip_prefix("error: ") {
            out.push(rest.to_string());
        } else if l == "error:" {
            continue;
        } else if let Some(rest) = l.strip_prefix("       ") {
            out.push(rest.to_string());
        } else {
            out.push(l.to_string());
        }
    }
    // Drop blank lines at both ends and runs of blank lines.
    let mut cleaned: Vec<String> = Vec::new();
    for l in out {
        if l.trim().is_empty() && cleaned.last().is_none_or(|p: &String| p.trim().is_empty()) {
            continue;
        }
        cleaned.push(l);
    }
    while cleaned.last().is_some_and(|l| l.trim().is_empty()) {
        cleaned.pop();
    }
    cleaned.join("\n")
}

/// The messages of the failed assertions, when the error is the
/// "Failed assertions:" list thrown by `evalServices`.
pub fn failed_assertions(stderr: &str) -> Option<Vec<String>> {
    let text = clean_nix_error(stderr);
    let mut lines = text.lines();
    lines.find(|l| l.trim() == "Failed assertions:")?;
    let mut items: Vec<String> = Vec::new();
    for l in lines {
        let t = l.trim();
        if let Some(m) = t.strip_prefix("- ") {
            items.push(m.to_string());
        } else if t.is_empty() {
            continue;
        } else if let Some(last) = items.last_mut() {
            last.push('\n');
            last.push_str(t);
        }
    }
    Some(items)
}

/// The warnings in nix-instantiate's stderr (`builtins.trace` lines).
pub fn nix_warnings(stderr: &str) -> Vec<String> {
    strip_ansi(stderr)
        .lines()
        .filter_map(|l| {
            let l = l.trim_end();
            l.strip_prefix("trace: ")
                .or_else(|| l.strip_prefix("evaluation warning: "))
                .map(|w| w.strip_prefix("warning: ").unwrap_or(w).to_string())
        })
        .collect()
}

/// A `docs/options.md`-style page from [`options_json`]'s value: one section
/// per option with its description, type, default and example.
pub fn options_markdown(json: &Value) -> String {
    let mut out = String::new();
    out.push_str("# Options\n\n");
    out.push_str(
        "<!-- Generated from the declarations in nix/modules/ (nix/options-doc.nix, \
         rendered by host/src/evaluate.rs `options_markdown`). Do not edit by hand. -->\n\n",
    );
    out.push_str(
        "The options of a deployment module (`services.nix`). A service's options are \
         under `services.<name>`; the core option names used by `optionsSet` and \
         `ignoreUnsupported` are these without the `services.<name>.` prefix. \
         See [deployment-json.md](deployment-json.md) for the JSON they produce.\n",
    );
    let empty = Vec::new();
    let options = json.as_array().unwrap_or(&empty);
    for o in options {
        let name = o.get("name").and_then(Value::as_str).unwrap_or("?");
        out.push_str(&format!("\n## `{name}`\n\n"));
        let desc = o
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim();
        if !desc.is_empty() {
            out.push_str(desc);
            out.push_str("\n\n");
        }
        if let Some(t) = o.get("type").and_then(Value::as_str) {
            out.push_str(&format!("- **Type:** {}\n", inline_code(t)));
        }
        match o.get("default") {
            Some(d) => out.push_str(&field("Default", &rendered_value(d))),
            None => out.push_str("- **Default:** none (must be set)\n"),
        }
        if let Some(e) = o.get("example") {
            out.push_str(&field("Example", &rendered_value(e)));
        }
        if o.get("readOnly").and_then(Value::as_bool) == Some(true) {
            out.push_str("- **Read-only**\n");
        }
        let decls: Vec<String> = o
            .get("declarations")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(inline_code)
                    .collect()
            })
            .unwrap_or_default();
        if !decls.is_empty() {
            out.push_str(&format!("- **Declared in:** {}\n", decls.join(", ")));
        }
    }
    out
}

/// A list item `- **label:** value`; a block value goes below the label.
fn field(label: &str, value: &str) -> String {
    if value.starts_with('\n') {
        format!("- **{label}:**{value}")
    } else {
        format!("- **{label}:** {value}\n")
    }
}

/// `{ _type = "literalExpression" | "literalMD"; text; }` (or a plain JSON
/// value) as Markdown: inline code, a fenced `nix` block when multi-line,
/// Markdown as is.
fn rendered_value(v: &Value) -> String {
    let (kind, text) = match v {
        Value::Object(m) if m.get("text").is_some_and(Value::is_string) => (
            m.get("_type")
                .and_then(Value::as_str)
                .unwrap_or("literalExpression"),
            m["text"].as_str().unwrap_or("").to_string(),
        ),
        other => ("json", other.to_string()),
    };
    if kind == "literalMD" {
        return text.trim().to_string();
    }
    let text = text.trim_end();
    if text.contains('\n') {
        let lang = if kind == "json" { "json" } else { "nix" };
        let fence = if text.contains("```") { "````" } else { "```" };
        format!("\n\n  {fence}{lang}\n{}\n  {fence}\n", indent(text, "  "))
    } else {
        inline_code(text)
    }
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{prefix}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Inline code that survives backticks inside.
fn inline_code(s: &str) -> String {
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ASSERTION_STDERR: &str = "error:\n       Failed assertions:\n       - services.a.process.argv: must not be empty (defined in `/tmp/x/services.nix').\n       - services.a.dependsOn.zz: there is no service \"zz\" (services: a, b).\n(use '--show-trace' to show detailed location information)\n";

    const SYNTAX_STDERR: &str = "warning: the group 'nixbld' specified in 'build-users-group' does not exist\nerror: syntax error, unexpected '=', expecting ';'\n\n       at /tmp/n2d/syn.nix:3:12:\n\n            2|   name = \"x\"\n            3|   services = {};\n             |            ^\n            4| }\n(use '--show-trace' to show detailed location information)\n";

    #[test]
    fn clean_keeps_message_location_and_frame() {
        let c = clean_nix_error(SYNTAX_STDERR);
        assert_eq!(
            c,
            "syntax error, unexpected '=', expecting ';'\n\nat /tmp/n2d/syn.nix:3:12:\n\n     2|   name = \"x\"\n     3|   services = {};\n      |            ^\n     4| }"
        );
    }

    #[test]
    fn clean_strips_ansi_and_traces() {
        let s = "trace: warning: something\n\u{1b}[31;1merror:\u{1b}[0m undefined variable '\u{1b}[35;1mfoo\u{1b}[0m'\n";
        assert_eq!(clean_nix_error(s), "undefined variable 'foo'");
    }

    #[test]
    fn assertions_are_listed() {
        let failed = failed_assertions(ASSERTION_STDERR).unwrap();
        assert_eq!(
            failed,
            vec![
                "services.a.process.argv: must not be empty (defined in `/tmp/x/services.nix').",
                "services.a.dependsOn.zz: there is no service \"zz\" (services: a, b).",
            ]
        );
        assert!(failed_assertions(SYNTAX_STDERR).is_none());
    }

    #[test]
    fn assertion_failure_error_lists_all() {
        let n = NixpkgsSource::Flag(PathBuf::from("/np"));
        let e = nix_failure("services.nix", ASSERTION_STDERR, &n).to_string();
        assert!(
            e.starts_with("services.nix: 2 failed assertions:\n- services.a.process.argv"),
            "{e}"
        );
        assert!(e.contains("\n- services.a.dependsOn.zz"), "{e}");
    }

    #[test]
    fn evaluation_error_keeps_file_and_line() {
        let n = NixpkgsSource::Flag(PathBuf::from("/np"));
        let e = nix_failure("services.nix", SYNTAX_STDERR, &n).to_string();
        assert!(
            e.starts_with("evaluating services.nix failed:\nsyntax error"),
            "{e}"
        );
        assert!(e.contains("/tmp/n2d/syn.nix:3:12"), "{e}");
        assert!(!e.contains("show-trace"), "{e}");
        assert!(!e.contains("nixbld"), "{e}");
    }

    #[test]
    fn missing_nixpkgs_says_how_to_provide_it() {
        let n = NixpkgsSource::EnvVar(PathBuf::from("/np"));
        let stderr = "error: file 'nixpkgs/lib' was not found in the Nix search path (add it using $NIX_PATH or -I)\n";
        let e = nix_failure("services.nix", stderr, &n).to_string();
        assert!(e.contains("--nixpkgs PATH"), "{e}");
        assert!(e.contains("NIX2DREAM_NIXPKGS"), "{e}");
        assert!(e.contains("NIX_PATH"), "{e}");
    }

    #[test]
    fn warnings_are_collected() {
        let s = "trace: warning: getExe: Package hello does not have meta.mainProgram\nevaluation warning: old thing\nerror: x\n";
        assert_eq!(
            nix_warnings(s),
            vec![
                "getExe: Package hello does not have meta.mainProgram",
                "old thing"
            ]
        );
    }

    #[test]
    fn markdown_has_one_section_per_option() {
        let j = json!([
            {
                "name": "name",
                "type": "string matching the pattern [a-z0-9][a-z0-9-]*",
                "description": "Name of the deployment.\n",
                "example": { "_type": "literalExpression", "text": "\"shop\"" },
                "readOnly": false,
                "declarations": ["nix/modules/deployment.nix"]
            },
            {
                "name": "services.<name>.healthcheck",
                "type": "null or (submodule)",
                "description": "How to tell.",
                "default": { "_type": "literalExpression", "text": "null" },
                "example": { "_type": "literalExpression", "text": "{\n  interval = 5;\n}\n" },
                "readOnly": false,
                "declarations": ["nix/modules/service.nix"]
            },
            {
                "name": "x",
                "type": "one of `a`",
                "description": "",
                "default": { "_type": "literalMD", "text": "the *name*" },
                "readOnly": true,
                "declarations": []
            }
        ]);
        let md = options_markdown(&j);
        assert!(md.starts_with("# Options\n"), "{md}");
        assert!(md.contains(
            "\n## `name`\n\nName of the deployment.\n\n- **Type:** `string matching the pattern [a-z0-9][a-z0-9-]*`\n- **Default:** none (must be set)\n- **Example:** `\"shop\"`\n- **Declared in:** `nix/modules/deployment.nix`\n"
        ), "{md}");
        assert!(md.contains(
            "\n## `services.<name>.healthcheck`\n\nHow to tell.\n\n- **Type:** `null or (submodule)`\n- **Default:** `null`\n- **Example:**\n\n  ```nix\n  {\n    interval = 5;\n  }\n  ```\n"
        ), "{md}");
        assert!(
            md.contains(
                "- **Type:** `` one of `a` ``\n- **Default:** the *name*\n- **Read-only**\n"
            ),
            "{md}"
        );
        assert_eq!(md.matches("\n## ").count(), 3);
    }
}
