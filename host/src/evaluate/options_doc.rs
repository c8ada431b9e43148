//! The option reference (`nix2dream options`, `docs/options.md`) as Markdown,
//! from the JSON that `nix/options-doc.nix` evaluates to.

use serde_json::Value;

/// A `docs/options.md`-style page from [`options_json`]'s value: one section
/// per option with its description, type, default and example.
pub fn options_markdown(json: &Value) -> String {
    let mut out = String::new();
    out.push_str("# Options\n\n");
    out.push_str(
        "<!-- Generated from the declarations in nix/modules/ (nix/options-doc.nix, \
         rendered by host/src/evaluate/options_doc.rs). Do not edit by hand. -->\n\n",
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
