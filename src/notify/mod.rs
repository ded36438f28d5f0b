//! Email: the tenant's NotificationTemplates, the outbox every email is written to in the
//! transaction that causes it, and the worker that delivers the outbox over SMTP (or into a
//! folder of `.eml` files when no SMTP server is configured).

pub mod mailer;
pub mod outbox;
pub mod templates;

use std::fmt;
use std::str::FromStr;

/// What an email is for; each kind has its own template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invite,
    PasswordReset,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Invite, Kind::PasswordReset];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Invite => "invite",
            Kind::PasswordReset => "password_reset",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown email kind {s:?}: use invite or password_reset"))
    }
}

/// A rendered email, ready for the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}
