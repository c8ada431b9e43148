//! What a render tells the user: warnings and errors with the plugin, service
//! and option they concern, so that the text output can group them and the
//! JSON output can give them field by field.

use crate::plugin::Severity;
use std::fmt;

/// One message, already naming its plugin, service and option in `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub severity: Severity,
    /// `name@version` of the plugin it comes from or concerns.
    pub plugin: Option<String>,
    pub service: Option<String>,
    pub option: Option<String>,
    /// The whole sentence (escaped for the terminal).
    pub text: String,
    /// An option the service sets that the plugin ignores (the capability
    /// check): the text output groups these by plugin and option.
    pub unsupported: bool,
}

impl Message {
    pub fn severity_name(&self) -> &'static str {
        severity_name(self.severity)
    }
}

/// "error", "warning" or "info": the word the terminal output starts with.
pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// A group of ignored options is listed with at most this many services.
const LISTED_SERVICES: usize = 3;

/// Other messages of one plugin and severity shown before the rest are
/// only counted (20,000 images without their program: 5 lines and a count).
const LISTED_SIMILAR: usize = 5;

/// The messages as lines for the terminal: every ignored option of one
/// plugin becomes one line listing a few services and a count (10,000
/// services must not mean 10,000 lines), unless `verbose`. The order is
/// kept: a group stands where its first message stood.
pub fn grouped(messages: &[Message], verbose: bool) -> Vec<(Severity, String)> {
    let mut lines: Vec<(Severity, String)> = Vec::new();
    let mut groups: Vec<(usize, &Message, Vec<&str>)> = Vec::new();
    // Per plugin and severity: how many other messages, and where the count line stands.
    let mut similar: Vec<(&str, Severity, usize, usize)> = Vec::new();
    for m in messages {
        let key = |g: &&mut (usize, &Message, Vec<&str>)| g.1.plugin == m.plugin && g.1.option == m.option && g.1.severity == m.severity;
        match (m.unsupported && !verbose, m.service.as_deref(), m.plugin.as_deref()) {
            (true, Some(service), _) => match groups.iter_mut().find(key) {
                Some(group) => group.2.push(service),
                None => {
                    groups.push((lines.len(), m, vec![service]));
                    lines.push((m.severity, String::new()));
                }
            },
            (false, _, Some(plugin)) if !verbose => {
                let at = match similar.iter().position(|s| s.0 == plugin && s.1 == m.severity) {
                    Some(at) => at,
                    None => {
                        similar.push((plugin, m.severity, 0, 0));
                        similar.len() - 1
                    }
                };
                similar[at].2 += 1;
                if similar[at].2 <= LISTED_SIMILAR {
                    lines.push((m.severity, m.text.clone()));
                } else if similar[at].2 == LISTED_SIMILAR + 1 {
                    similar[at].3 = lines.len();
                    lines.push((m.severity, String::new()));
                }
            }
            _ => lines.push((m.severity, m.text.clone())),
        }
    }
    for (at, first, services) in groups {
        lines[at].1 = if services.len() == 1 { first.text.clone() } else { group_text(first, &services) };
    }
    for (plugin, severity, count, at) in similar.into_iter().filter(|s| s.2 > LISTED_SIMILAR) {
        lines[at].1 = format!(
            "plugin {plugin}: {} more {}s like those above (-v lists them all, --format json gives each)",
            count - LISTED_SIMILAR,
            severity_name(severity)
        );
    }
    lines
}

fn group_text(first: &Message, services: &[&str]) -> String {
    let option = first.option.as_deref().unwrap_or_default();
    let mut named = services.iter().take(LISTED_SERVICES).map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    if services.len() > LISTED_SERVICES {
        named += &format!(" and {} more; -v lists them all", services.len() - LISTED_SERVICES);
    }
    format!(
        "{} services set `{option}`, which plugin {} does not support: it is ignored ({named}) \
         (silence with --allow-unsupported {option} or ignoreUnsupported){}",
        services.len(),
        first.plugin.as_deref().unwrap_or("?"),
        if first.severity == Severity::Error { " [--strict]" } else { "" }
    )
}

/// A render that failed on errors from plugins or the capability check:
/// nothing was written. Kept whole, so the JSON output lists every error.
#[derive(Debug)]
pub struct RenderFailed {
    pub errors: Vec<Message>,
}

impl fmt::Display for RenderFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = grouped(&self.errors, false).into_iter().map(|(_, text)| text).collect();
        write!(f, "render failed, nothing was written:\n  {}", lines.join("\n  "))
    }
}

impl std::error::Error for RenderFailed {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignored(service: &str, option: &str) -> Message {
        Message {
            severity: Severity::Warning,
            plugin: Some("procfile@0.1.0".into()),
            service: Some(service.into()),
            option: Some(option.into()),
            text: format!("service {service:?} sets `{option}`, which procfile@0.1.0 does not support"),
            unsupported: true,
        }
    }

    #[test]
    fn ignored_options_are_one_line_per_plugin_and_option_unless_verbose() {
        let other = Message { unsupported: false, service: None, option: None, text: "plugin said so".into(), ..ignored("x", "y") };
        let mut messages: Vec<Message> = (0..5).map(|i| ignored(&format!("s{i}"), "user")).collect();
        messages.insert(1, other);
        messages.push(ignored("s9", "replicas"));
        let lines = grouped(&messages, false);
        let texts: Vec<&str> = lines.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts.len(), 3, "{texts:#?}");
        assert!(texts[0].starts_with("5 services set `user`, which plugin procfile@0.1.0 does not support"), "{}", texts[0]);
        assert!(texts[0].contains(r#"("s0", "s1", "s2" and 2 more; -v lists them all)"#), "{}", texts[0]);
        assert_eq!(texts[1], "plugin said so", "the order is kept");
        assert_eq!(texts[2], messages[6].text, "a group of one is the message itself");
        assert_eq!(grouped(&messages, true).len(), messages.len(), "-v lists every service");
    }

    #[test]
    fn many_messages_of_one_plugin_are_a_few_lines_and_a_count_unless_verbose() {
        let said = |i: usize| Message { unsupported: false, option: None, text: format!("image {i} lacks its program"), ..ignored("x", "y") };
        let messages: Vec<Message> = (0..20).map(said).collect();
        let lines = grouped(&messages, false);
        assert_eq!(lines.len(), LISTED_SIMILAR + 1);
        assert_eq!(lines[0].1, "image 0 lacks its program");
        assert_eq!(lines[5].1, "plugin procfile@0.1.0: 15 more warnings like those above (-v lists them all, --format json gives each)");
        assert_eq!(grouped(&messages[..5], false).len(), 5, "no count line for five");
        assert_eq!(grouped(&messages, true).len(), 20);
    }
}
