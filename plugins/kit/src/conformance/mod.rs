//! The conformance kit: one probe deployment that carries hostile values in
//! every option a process sees (argv, env, a config file, the working
//! directory), and the check that a manager's real consumer — honcho,
//! Docker, docker-compose, systemd, … — ran it exactly as written.
//!
//! The rule every manager must keep: **a value arrives byte for byte, or the
//! render refuses it naming the service and option** — never a silent
//! change (YAML 1.1 reading `12:30` as 750, a shell expanding `$HOME`,
//! systemd expanding `%n`, …).
//!
//! How a plugin's end-to-end test (bundled or third-party) uses it:
//! 1. `let probe = Probe::new(busybox, workdir)`: `busybox` is a store path
//!    whose `bin/` holds a static busybox with `sh`, `od`, `tr`, `pwd`,
//!    `cat`, `sleep`; `workdir` an absolute directory the service may use.
//! 2. Render `probe.deployment_json()` (a `nix2dream/v1` document) with the
//!    plugin, run the result with the real manager.
//! 3. Collect the service's output (honcho's log, `docker logs`,
//!    `journalctl -u`): the probe prints one `N2D-PROBE` report and sleeps.
//! 4. `probe.check(&output)` is `Ok` when everything arrived, else a list
//!    naming each value that did not, with what arrived instead.

pub mod stack;

use serde_json::{json, Value};

/// Values a manager must carry unchanged: shell, systemd and Compose
/// metacharacters, YAML 1.1 and 1.2 words that read as non-strings,
/// whitespace at the ends, control characters, non-ASCII text, and the
/// empty string.
pub const HOSTILE: &[&str] = &[
    "",
    " lead and trail ",
    "two  spaces",
    "tab\there",
    "new\nline",
    "'single'",
    "\"double\"",
    "back\\slash\\",
    "$HOME",
    "${HOME}",
    "$$",
    "`id`",
    "$(id)",
    "%n %% %i",
    "a;b|c&d>e<f",
    "*",
    "?",
    "[a]",
    "{a,b}",
    "~",
    "#comment",
    "- dash",
    "key: value",
    "no",
    "No",
    "off",
    "on",
    "yes",
    "y",
    "n",
    "true",
    "null",
    "12:30",
    "1_000",
    "0x1F",
    "0o17",
    "017",
    ".inf",
    "1e3",
    "=",
    "<<",
    "!tag",
    "&anchor",
    "@at",
    "é✓ 日本",
    "\u{1b}[31mred",
];

/// The probe's service name, and its environment variables' prefix.
pub const SERVICE: &str = "probe";
const ENV_PREFIX: &str = "PROBE_";
/// Where the probe reads its config file: relative to the working directory.
pub const CONFIG_PATH: &str = "conf/probe.conf";

/// The shell script the probe runs (`sh -c SCRIPT probe ARGS…`): it prints
/// what it received, each value hex-encoded (so that a log's line prefixes,
/// newlines or escapes cannot blur it), then sleeps.
fn script(env_names: &[String]) -> String {
    let names = env_names.join(" ");
    format!(
        r#"hex() {{ printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }}
line="N2D-PROBE argv"
for a in "$@"; do line="$line x$(hex "$a")"; done
echo "$line"
for n in {names}; do
  eval "isset=\${{$n+1}} v=\${{$n-}}"
  if [ -n "$isset" ]; then echo "N2D-PROBE env $n x$(hex "$v")"; else echo "N2D-PROBE env $n unset"; fi
done
echo "N2D-PROBE cwd x$(hex "$(pwd)")"
if [ -r {config} ]; then echo "N2D-PROBE file x$(od -An -tx1 -v < {config} | tr -d ' \n')"; else echo "N2D-PROBE file missing"; fi
echo "N2D-PROBE end"
exec sleep 100000
"#,
        config = CONFIG_PATH,
    )
}

/// The probe deployment and what its service must observe.
pub struct Probe {
    pub busybox: String,
    pub workdir: String,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub config_text: String,
}

/// What the probe reported.
#[derive(Debug, Default, PartialEq)]
pub struct Observed {
    pub argv: Vec<Vec<u8>>,
    pub env: Vec<(String, Option<Vec<u8>>)>,
    pub cwd: Vec<u8>,
    pub file: Option<Vec<u8>>,
}

impl Probe {
    pub fn new(busybox: &str, workdir: &str) -> Probe {
        let env = HOSTILE.iter().enumerate().map(|(i, v)| (format!("{ENV_PREFIX}{i}"), (*v).to_owned())).collect();
        Probe {
            busybox: busybox.to_owned(),
            workdir: workdir.to_owned(),
            argv: HOSTILE.iter().map(|s| (*s).to_owned()).collect(),
            env,
            // Every hostile value, one per line: a config file is bytes too.
            config_text: HOSTILE.join("\n") + "\n",
        }
    }

    fn env_names(&self) -> Vec<String> {
        self.env.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The service's `process.argv`: the probe script, then the hostile words.
    pub fn full_argv(&self) -> Vec<String> {
        let mut argv = vec!["sh".to_owned(), "-c".to_owned(), script(&self.env_names()), "probe".to_owned()];
        argv.extend(self.argv.iter().cloned());
        argv
    }

    /// The probe as a `nix2dream/v1` deployment named `name`.
    pub fn deployment_json(&self, name: &str) -> Value {
        let env: serde_json::Map<String, Value> = self.env.iter().map(|(n, v)| (n.clone(), json!(v))).collect();
        json!({
            "schema": "nix2dream/v1",
            "name": name,
            "services": {
                SERVICE: {
                    "package": self.busybox,
                    "process": {"argv": self.full_argv()},
                    "env": env,
                    "workingDirectory": self.workdir,
                    "configData": {"probe.conf": {"path": CONFIG_PATH, "text": self.config_text}},
                    "restart": "no",
                }
            }
        })
    }

    /// Parses the probe's report out of a log (lines may carry prefixes).
    pub fn observed(output: &str) -> Result<Observed, String> {
        let mut observed = Observed::default();
        let mut ended = false;
        for line in output.lines() {
            let Some(at) = line.find("N2D-PROBE ") else { continue };
            let mut words = line[at + "N2D-PROBE ".len()..].split_whitespace();
            match words.next() {
                Some("argv") => observed.argv = words.map(unhex).collect::<Result<_, _>>()?,
                Some("env") => {
                    let name = words.next().ok_or("env line without a name")?.to_owned();
                    let value = match words.next() {
                        Some("unset") => None,
                        Some(hex) => Some(unhex(hex)?),
                        None => return Err(format!("env line for {name} without a value")),
                    };
                    observed.env.push((name, value));
                }
                Some("cwd") => observed.cwd = unhex(words.next().unwrap_or("x"))?,
                Some("file") => observed.file = words.next().filter(|w| *w != "missing").map(unhex).transpose()?,
                Some("end") => {
                    ended = true;
                    break;
                }
                _ => {}
            }
        }
        if ended {
            Ok(observed)
        } else {
            Err("no complete N2D-PROBE report in the output (did the probe start?)".to_owned())
        }
    }

    /// Compares what the service saw with what the deployment says; each
    /// difference names the option, the value sent and what arrived.
    pub fn check(&self, output: &str) -> Result<(), Vec<String>> {
        let seen = Probe::observed(output).map_err(|e| vec![format!("{e}\n--- output ---\n{output}")])?;
        let mut problems = Vec::new();
        let show = |b: &[u8]| format!("{:?}", String::from_utf8_lossy(b));
        if seen.argv.len() != self.argv.len() {
            problems.push(format!(
                "process.argv: {} words sent, {} arrived: {:?}",
                self.argv.len(),
                seen.argv.len(),
                seen.argv.iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect::<Vec<_>>()
            ));
        }
        for (sent, got) in self.argv.iter().zip(&seen.argv) {
            if sent.as_bytes() != got.as_slice() {
                problems.push(format!("process.argv: {sent:?} arrived as {}", show(got)));
            }
        }
        for (name, sent) in &self.env {
            match seen.env.iter().find(|(n, _)| n == name) {
                Some((_, Some(got))) if got.as_slice() == sent.as_bytes() => {}
                Some((_, Some(got))) => problems.push(format!("env.{name}: {sent:?} arrived as {}", show(got))),
                Some((_, None)) => problems.push(format!("env.{name}: {sent:?} did not arrive (unset)")),
                None => problems.push(format!("env.{name}: not reported")),
            }
        }
        if seen.cwd != self.workdir.as_bytes() {
            problems.push(format!("workingDirectory: {:?} but the process ran in {}", self.workdir, show(&seen.cwd)));
        }
        match &seen.file {
            Some(got) if got.as_slice() == self.config_text.as_bytes() => {}
            Some(got) => problems.push(format!(
                "configData.\"probe.conf\": {:?} arrived as {}",
                self.config_text,
                show(got)
            )),
            None => problems.push(format!("configData.\"probe.conf\": no readable file at {CONFIG_PATH} in the working directory")),
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

fn unhex(word: &str) -> Result<Vec<u8>, String> {
    let hex = word.strip_prefix('x').ok_or_else(|| format!("bad probe word {word:?}"))?;
    if hex.len() % 2 != 0 {
        return Err(format!("bad probe hex {hex:?}"));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| format!("bad probe hex {hex:?}: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe's own script, run by this machine's `sh`, reports exactly
    /// what it was given: the kit's parser and checker agree with it.
    #[test]
    fn the_probe_reports_what_it_receives_through_a_real_sh() {
        let probe = Probe::new("/unused", "/");
        let dir = std::env::temp_dir().join(format!("n2d-probe-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        std::fs::write(dir.join(CONFIG_PATH), &probe.config_text).unwrap();
        let argv = probe.full_argv();
        // Replace the final `exec sleep` so the script ends.
        let script = argv[2].replace("exec sleep 100000", "exit 0");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .args(&argv[3..])
            .envs(probe.env.iter().map(|(n, v)| (n, v)))
            .current_dir(&dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let expected = Probe { workdir: dir.to_string_lossy().into_owned(), ..probe };
        assert_eq!(expected.check(&text), Ok(()));
        // A value that arrived changed is named, with what arrived.
        let at = HOSTILE.iter().position(|v| *v == "12:30").unwrap();
        let mut argv = expected.argv.clone();
        argv[at] = "750".into();
        let corrupted = Probe { argv, ..expected };
        let problems = corrupted.check(&text).unwrap_err();
        assert_eq!(problems, vec!["process.argv: \"750\" arrived as \"12:30\"".to_owned()]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
