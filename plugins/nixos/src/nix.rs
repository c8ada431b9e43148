//! Writing Nix expressions: string literals that evaluate to exactly the
//! given text, attribute names, lists, and store paths that carry context.

/// The store directory whose paths get context (`store_path`).
const STORE_DIR: &str = "/nix/store/";

/// A `"..."` literal evaluating to `s` byte for byte. `${` is escaped
/// (`\${`), so nothing is interpolated; `\r` is escaped because the Nix lexer
/// turns a literal CR into LF; newlines stay literal for readability. Nix
/// strings cannot hold NUL: callers refuse it first ([`has_nul`]).
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

const KEYWORDS: &[&str] = &["assert", "else", "if", "in", "inherit", "let", "or", "rec", "then", "with"];

/// An attribute name: bare when Nix reads it as one, quoted otherwise.
pub fn attr(name: &str) -> String {
    let mut chars = name.chars();
    let bare = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '\''))
        && !KEYWORDS.contains(&name);
    if bare {
        name.to_owned()
    } else {
        string(name)
    }
}

/// `[ a b c ]` of already written expressions.
pub fn list<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return "[ ]".into();
    }
    format!("[ {} ]", items.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" "))
}

/// The store path that `path` lies in, and the rest (`/bin/x`, or "").
fn split_store_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix(STORE_DIR)?;
    let end = rest.find('/').unwrap_or(rest.len());
    let name = &rest[..end];
    // <32-char hash>-<name>
    let valid = name.len() > 33 && name.as_bytes()[32] == b'-' && name[..32].bytes().all(|b| b.is_ascii_alphanumeric());
    valid.then(|| path.split_at(STORE_DIR.len() + end))
}

/// The top-level store path that `path` is or lies in.
pub fn store_root(path: &str) -> Option<&str> {
    split_store_path(path).map(|(root, _)| root)
}

/// The inside of a `"..."` literal for `s` (without its quotes).
pub fn inner(s: &str) -> String {
    let quoted = string(s);
    quoted[1..quoted.len() - 1].to_owned()
}

/// `path` inside a string literal; a store path (or a path inside one) is
/// interpolated through the module's `store` function, so it carries its
/// store path as context and NixOS puts it in the system's closure.
pub fn store_path_inner(path: &str) -> String {
    match split_store_path(path) {
        Some((root, rest)) => format!("${{store {}}}{}", string(root), inner(rest)),
        None => inner(path),
    }
}

/// `path` as a Nix string: with context for store paths ([`store_path_inner`]),
/// a plain string otherwise.
pub fn store_path(path: &str) -> String {
    match split_store_path(path) {
        Some((root, "")) => format!("(store {})", string(root)),
        _ => format!("\"{}\"", store_path_inner(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Evaluates `expr` with the module's `store` function in scope; its JSON value and context.
    fn eval(expr: &str) -> (serde_json::Value, serde_json::Value) {
        let program = format!(
            "let store = path: builtins.appendContext path {{ ${{path}} = {{ path = true; }}; }}; v = {expr}; in \
             {{ value = v; context = if builtins.isString v then builtins.attrNames (builtins.getContext v) else [ ]; }}"
        );
        let out = Command::new("nix-instantiate")
            .args(["--eval", "--strict", "--json", "--option", "pure-eval", "true", "-E", &program])
            .env("NIX_CONFIG", "build-users-group =")
            .output()
            .expect("nix-instantiate runs (apt-get install nix-bin; scripts/install-deps.sh does)");
        assert!(out.status.success(), "{expr}: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (v["value"].clone(), v["context"].clone())
    }

    #[test]
    fn hostile_strings_evaluate_to_themselves() {
        for s in ["plain", "${HOME}", "$${x}", "a\\b", "\"q\"", "''x''", "line\nbreak", "cr\r\nlf", "tab\t", "é€😀", "$", "\\$", "end$", "'"] {
            assert_eq!(eval(&string(s)).0, serde_json::json!(s), "{s:?} written as {}", string(s));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn any_string_evaluates_to_itself(s in "[\t\n\r -~é€😀\u{1}\u{7f}]{0,24}") {
            proptest::prop_assert_eq!(eval(&string(&s)).0, serde_json::json!(s));
        }
    }

    #[test]
    fn store_paths_carry_their_store_path_as_context() {
        let root = "/nix/store/5v7a3k05lvl7bvx2vys1gw44lgicm527-pkg";
        assert_eq!(eval(&store_path(root)), (serde_json::json!(root), serde_json::json!([root])));
        let inside = format!("{root}/etc/a b.conf");
        assert_eq!(eval(&store_path(&inside)), (serde_json::json!(inside), serde_json::json!([root])));
        assert_eq!(eval(&store_path("/etc/ssl/x.pem")), (serde_json::json!("/etc/ssl/x.pem"), serde_json::json!([])));
        assert_eq!(store_path("/nix/store/short"), "\"/nix/store/short\"");
    }

    #[test]
    fn attribute_names() {
        assert_eq!(attr("shop-web"), "shop-web");
        assert_eq!(attr("shop-worker@"), "\"shop-worker@\"");
        assert_eq!(attr("in"), "\"in\"");
        assert_eq!(attr("1x"), "\"1x\"");
    }
}
