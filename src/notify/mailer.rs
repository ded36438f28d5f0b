//! Delivering one email: over SMTP with lettre (`MUSTER_SMTP_URL`: `smtp://` with STARTTLS when
//! offered, `smtps://` for TLS, user and password in the URL), or, with no SMTP server
//! configured, as an `.eml` file in the outbox folder, which any mail program opens.

use super::Rendered;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

/// Where emails go.
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(PathBuf),
}

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug)]
pub struct SendError {
    pub message: String,
    /// The server refused for good (a 5xx answer such as an unknown recipient).
    pub permanent: bool,
}

impl Mailer {
    /// The SMTP transport for `url`, or the folder when there is none.
    ///
    /// # Errors
    /// A URL lettre cannot use, named for the admin.
    pub fn new(smtp_url: Option<&str>, folder: PathBuf) -> Result<Mailer, String> {
        match smtp_url {
            Some(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map(|b| Mailer::Smtp(b.timeout(Some(std::time::Duration::from_secs(20))).build()))
                .map_err(|e| format!("MUSTER_SMTP_URL is not a usable SMTP URL: {e}")),
            None => Ok(Mailer::Folder(folder)),
        }
    }

    /// Sends one email; `id` names the `.eml` file in folder mode.
    ///
    /// # Errors
    /// The delivery failed.
    pub async fn send(
        &self,
        from: &str,
        to: &str,
        id: &str,
        r: &Rendered,
    ) -> Result<(), SendError> {
        let fail = |message: String, permanent: bool| SendError { message, permanent };
        let from: Mailbox = from
            .parse()
            .map_err(|e| fail(format!("sender {from:?}: {e}"), true))?;
        let to_box: Mailbox = to
            .parse()
            .map_err(|e| fail(format!("recipient {to:?}: {e}"), true))?;
        let msg = Message::builder()
            .from(from)
            .to(to_box)
            .subject(r.subject.clone())
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(r.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(r.html.clone()),
                    ),
            )
            .map_err(|e| fail(format!("building the message: {e}"), true))?;
        match self {
            Mailer::Smtp(t) => t
                .send(msg)
                .await
                .map(|_| ())
                .map_err(|e| fail(e.to_string(), e.is_permanent())),
            Mailer::Folder(dir) => {
                let (dir, file) = (dir.clone(), dir.join(format!("{id}.eml")));
                let bytes = msg.formatted();
                let path = file.clone();
                tokio::task::spawn_blocking(move || {
                    std::fs::create_dir_all(&dir)?;
                    // Written whole, then renamed: a reader never sees half a message.
                    let tmp = path.with_extension("eml.part");
                    std::fs::write(&tmp, bytes)?;
                    std::fs::rename(&tmp, &path)
                })
                .await
                .map_err(|e| fail(e.to_string(), false))?
                .map_err(|e| fail(format!("writing {}: {e}", file.display()), false))?;
                tracing::info!(file = %file.display(), "email written to the outbox folder");
                Ok(())
            }
        }
    }
}
