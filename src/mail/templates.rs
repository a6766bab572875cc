//! Mail templates (`templates/mail/<kind>.txt` and `.html`, compiled in) and their
//! rendering: `{{name}}` placeholders, HTML-escaped in the HTML version.

use std::collections::BTreeMap;

use super::MailKind;

/// A rendered mail: subject, plain text and HTML. No `Debug`: the bodies hold links.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn sources(kind: MailKind) -> (&'static str, &'static str) {
    macro_rules! pair {
        ($name:literal) => {
            (
                include_str!(concat!("../../templates/mail/", $name, ".txt")),
                include_str!(concat!("../../templates/mail/", $name, ".html")),
            )
        };
    }
    match kind {
        MailKind::VerifyEmail => pair!("verify_email"),
        MailKind::ResetPassword => pair!("reset_password"),
        MailKind::PasswordChanged => pair!("password_changed"),
        MailKind::PasswordReset => pair!("password_reset"),
        MailKind::SignupAttempt => pair!("signup_attempt"),
        MailKind::SignInAttempts => pair!("sign_in_attempts"),
        MailKind::TotpEnabled => pair!("totp_enabled"),
        MailKind::TotpDisabled => pair!("totp_disabled"),
        MailKind::RecoveryCodeUsed => pair!("recovery_code_used"),
        MailKind::MfaReset => pair!("mfa_reset"),
    }
}

/// Why a template could not be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    #[error("template {kind:?} uses {{{{{name}}}}}, which was not given")]
    MissingVariable { kind: MailKind, name: String },
    #[error("template {0:?} has no `Subject:` first line")]
    NoSubject(MailKind),
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn fill(
    kind: MailKind,
    template: &str,
    vars: &BTreeMap<String, String>,
    html: bool,
) -> Result<String, RenderError> {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = after[..end].trim();
        let value = vars.get(name).ok_or_else(|| RenderError::MissingVariable {
            kind,
            name: name.to_owned(),
        })?;
        if html {
            out.push_str(&escape_html(value));
        } else {
            out.push_str(value);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Renders `kind` with `vars` (which must hold every variable its templates use).
///
/// # Errors
/// When a variable is missing.
pub fn render(kind: MailKind, vars: &BTreeMap<String, String>) -> Result<Rendered, RenderError> {
    let (text, html) = sources(kind);
    let text = fill(kind, text, vars, false)?;
    let (first, body) = text.split_once('\n').ok_or(RenderError::NoSubject(kind))?;
    let subject = first
        .strip_prefix("Subject: ")
        .ok_or(RenderError::NoSubject(kind))?
        .trim()
        .to_owned();
    Ok(Rendered {
        subject,
        text: body.trim_start_matches('\n').to_owned(),
        html: fill(kind, html, vars, true)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [
            ("product", "authql"),
            ("app_url", "https://app.example.com"),
            ("username", "<b>alice</b>"),
            ("link", "https://app.example.com/verify-email?token=abc&x=1"),
            ("valid_for", "24 hours"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn every_template_renders_with_a_subject_and_no_placeholder_left() {
        for kind in MailKind::ALL {
            let r = render(kind, &vars()).unwrap();
            assert!(r.subject.contains("authql"), "{kind:?}: {}", r.subject);
            assert!(!r.text.contains("{{") && !r.html.contains("{{"), "{kind:?}");
            assert!(r.text.contains("https://app.example.com"), "{kind:?}");
        }
    }

    #[test]
    fn html_values_are_escaped_and_text_values_are_not() {
        let r = render(MailKind::VerifyEmail, &vars()).unwrap();
        assert!(r.html.contains("&lt;b&gt;alice&lt;/b&gt;"));
        assert!(r.html.contains("token=abc&amp;x=1"));
        assert!(r.text.contains("<b>alice</b>"));
        assert!(r.text.contains("token=abc&x=1"));
    }

    #[test]
    fn a_missing_variable_is_an_error() {
        let mut v = vars();
        v.remove("link");
        assert!(matches!(
            render(MailKind::ResetPassword, &v),
            Err(RenderError::MissingVariable { name, .. }) if name == "link"
        ));
    }
}
