//! Delivering one email: over SMTP with lettre, or, with no SMTP server configured, as an
//! `.eml` file in the outbox folder, which any mail program opens.
//!
//! `MUSTER_SMTP_URL` says how to reach the server, and never lets an email (which carries
//! invitation and reset links) or a password cross the network in the clear by accident:
//! `smtp://` requires STARTTLS (port 587 by default), `smtps://` is TLS from the first byte
//! (465), and only `smtp://...?tls=none` speaks plain SMTP (25), for a relay on the same host.

use super::Rendered;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};
use std::path::{Path, PathBuf};

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
    /// The SMTP transport for `url` (trusting the certificate in `ca` besides the system's),
    /// or the folder when there is none.
    ///
    /// # Errors
    /// A URL muster cannot use, or an unreadable certificate, named for the admin. The message
    /// never repeats the URL, which may hold a password.
    pub fn new(
        smtp_url: Option<&str>,
        ca: Option<&Path>,
        folder: PathBuf,
    ) -> Result<Mailer, String> {
        match smtp_url {
            Some(url) => transport(url, ca)
                .map(Mailer::Smtp)
                .map_err(|e| format!("MUSTER_SMTP_URL: {e}")),
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
                    // Written whole, then renamed: a reader never sees half a message. Only
                    // muster's user may read it: it holds a live link.
                    use std::io::Write as _;
                    use std::os::unix::fs::OpenOptionsExt as _;
                    let tmp = path.with_extension("eml.part");
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .mode(0o600)
                        .open(&tmp)?;
                    f.write_all(&bytes)?;
                    f.sync_all()?;
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

/// How a connection is secured, from the URL's scheme and `tls` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    StartTls,
    Wrapper,
    Plain,
}

fn transport(url: &str, ca: Option<&Path>) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let url = url::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    let tls = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let security = match (url.scheme(), tls.as_deref()) {
        ("smtp", None | Some("required")) => Security::StartTls,
        ("smtp", Some("none")) => Security::Plain,
        ("smtps", None) => Security::Wrapper,
        ("smtp" | "smtps", Some(other)) => {
            return Err(format!(
                "tls={other:?} is not understood: smtp:// requires STARTTLS, smtps:// is TLS \
                 throughout, and smtp://...?tls=none sends in the clear"
            ))
        }
        (scheme, _) => return Err(format!("{scheme}:// is not SMTP; use smtp:// or smtps://")),
    };
    let host = url.host_str().ok_or("the URL names no host")?;
    let port = url.port().unwrap_or(match security {
        Security::StartTls => 587,
        Security::Wrapper => 465,
        Security::Plain => 25,
    });
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .timeout(Some(std::time::Duration::from_secs(20)));
    if security != Security::Plain {
        let mut params = TlsParameters::builder(host.to_owned());
        if let Some(path) = ca {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read the certificate {}: {e}", path.display()))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| format!("{} is not a PEM certificate: {e}", path.display()))?;
            params = params.add_root_certificate(cert);
        }
        let params = params.build().map_err(|e| format!("TLS: {e}"))?;
        b = b.tls(match security {
            Security::Wrapper => Tls::Wrapper(params),
            _ => Tls::Required(params),
        });
    }
    // The path names this host in EHLO, as lettre's own URLs do.
    let name = url.path().trim_matches('/');
    if !name.is_empty() {
        b = b.hello_name(ClientId::Domain(name.to_owned()));
    }
    if let Some(password) = url.password() {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(std::borrow::Cow::into_owned)
                .map_err(|_| "the user or password is not UTF-8 once decoded".to_owned())
        };
        b = b.credentials(Credentials::new(decode(url.username())?, decode(password)?));
    }
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> String {
        match transport(url, None) {
            Ok(_) => panic!("{url} was accepted"),
            Err(e) => e,
        }
    }

    // Building a transport starts its connection pool, which needs a runtime.
    #[tokio::test]
    async fn urls_say_how_the_connection_is_secured() {
        assert!(transport("smtp://u:p@mail.example:587", None).is_ok());
        assert!(transport("smtps://mail.example", None).is_ok());
        assert!(transport("smtp://relay.local?tls=none", None).is_ok());
        assert!(refused("smtp://mail.example?tls=opportunistic").contains("not understood"));
        assert!(refused("smtps://mail.example?tls=none").contains("not understood"));
        assert!(refused("http://mail.example").contains("not SMTP"));
        let e = refused("smtpx://user:hunter2secret@mail.example");
        assert!(!e.contains("hunter2secret"), "{e}");
    }
}
