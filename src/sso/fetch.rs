//! Every request muster sends on a tenant admin's behalf (discovery documents, key sets, SAML
//! metadata, token and userinfo endpoints) goes through [`Outbound`]. A tenant admin chooses
//! these URLs, so they must not reach what the server can reach and the internet cannot:
//!
//! - https only; http only to this machine, and only with the development setting on;
//! - names are resolved here and only public addresses are connected to (loopback too with
//!   the development setting); the check is on the address connected to, so a name that
//!   resolves differently the second time gains nothing;
//! - no redirects, no proxy from the environment, 10 s per request, at most 1 MiB read;
//! - the caller learns that the fetch failed, not why: the reason (a refused address, a
//!   status, a connection error) goes to the server log.

use openidconnect::{HttpRequest, HttpResponse};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The largest body read from an identity provider.
const MAX_BODY: usize = 1 << 20;

/// Where requests on a tenant admin's behalf may go. The default: the public internet only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outbound {
    /// Development: identity providers on this machine (http allowed there).
    pub loopback: bool,
}

/// Which addresses one client may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Public,
    PublicAndLoopback,
    LoopbackOnly,
}

impl Reach {
    fn allows(self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match self {
            Reach::Public => is_public(ip),
            Reach::PublicAndLoopback => is_public(ip) || ip.is_loopback(),
            Reach::LoopbackOnly => ip.is_loopback(),
        }
    }
}

/// An IPv4 address carried in IPv6 (mapped, or NAT64) is judged as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return IpAddr::V4(Ipv4Addr::new(a, b, c, d));
            }
            IpAddr::V6(v6)
        }
        v4 => v4,
    }
}

/// Whether an address is on the public internet: not loopback, private, shared (CGNAT),
/// link-local (where cloud metadata services live), unique-local, multicast, reserved or
/// unspecified.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || v6 == Ipv6Addr::from(0u128))
        }
    }
}

/// Resolves names to the addresses a client may connect to, and only those.
struct Guard(Reach);

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let reach = self.0;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| reach.allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves to no address muster may reach").into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

fn client(reach: Reach) -> &'static reqwest::Client {
    static CLIENTS: [OnceLock<reqwest::Client>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match reach {
        Reach::Public => &CLIENTS[0],
        Reach::PublicAndLoopback => &CLIENTS[1],
        Reach::LoopbackOnly => &CLIENTS[2],
    };
    slot.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(Guard(reach)))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default()
    })
}

/// Why a fetch failed: `public` is what the admin is told, the rest goes to the log.
#[derive(Debug)]
pub struct FetchError {
    pub public: String,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.public)
    }
}

impl std::error::Error for FetchError {}

impl Outbound {
    /// The client for `url`, or why the URL is refused outright.
    fn client_for(self, url: &url::Url) -> Result<&'static reqwest::Client, String> {
        let reach = match (url.scheme(), self.loopback) {
            ("https", false) => Reach::Public,
            ("https", true) => Reach::PublicAndLoopback,
            ("http", true) => Reach::LoopbackOnly,
            ("http", false) => return Err("it must be an https URL".into()),
            _ => return Err("it must be an https URL".into()),
        };
        // An address written in the URL is not resolved, so it is checked here.
        let literal = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) => None,
            None => return Err("it names no host".into()),
        };
        if literal.is_some_and(|ip| !reach.allows(ip)) {
            return Err("muster does not send requests to that address".into());
        }
        Ok(client(reach))
    }

    /// Sends one request and reads at most [`MAX_BODY`] of the answer, whatever its status.
    async fn exchange(
        self,
        req: reqwest::Request,
        what: &str,
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>), FetchError> {
        let url = req.url().clone();
        let failed = |detail: String| {
            tracing::warn!(%url, what, error = %detail, "outbound request failed");
            FetchError {
                public: unreachable(what, &url),
            }
        };
        let client = self.client_for(&url).map_err(|why| FetchError {
            public: format!("{what} at {}: {why}", shown(&url)),
        })?;
        let mut resp = client.execute(req).await.map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            failed(msg)
        })?;
        let (status, headers) = (resp.status(), resp.headers().clone());
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| failed(e.to_string()))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(failed(format!(
                    "the answer is larger than {MAX_BODY} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            tracing::warn!(%url, what, %status, "outbound request answered with an error");
        }
        Ok((status, headers, body))
    }

    /// GETs a document an admin pointed muster at (`what`, e.g. "the metadata"): 2xx, UTF-8.
    ///
    /// # Errors
    /// A refused URL, or a failed fetch (the reason is logged, not returned).
    pub async fn get(self, url: &str, what: &str) -> Result<String, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let req = reqwest::Request::new(reqwest::Method::GET, parsed.clone());
        let (status, _, body) = self.exchange(req, what).await.map_err(|e| e.public)?;
        if !status.is_success() {
            return Err(unreachable(what, &parsed));
        }
        String::from_utf8(body).map_err(|_| format!("{what} at {} is not UTF-8", shown(&parsed)))
    }

    /// Sends a request built by openidconnect (token and userinfo endpoints).
    ///
    /// # Errors
    /// A refused URL, or a failed exchange (the reason is logged).
    pub async fn send(self, req: HttpRequest, what: &str) -> Result<HttpResponse, FetchError> {
        let (parts, body) = req.into_parts();
        let url = url::Url::parse(&parts.uri.to_string()).map_err(|e| FetchError {
            public: format!("{what}: the provider's URL is not valid: {e}"),
        })?;
        let mut out = reqwest::Request::new(parts.method, url);
        *out.headers_mut() = parts.headers;
        *out.body_mut() = Some(body.into());
        let (status, headers, body) = self.exchange(out, what).await?;
        let mut resp = HttpResponse::new(body);
        *resp.status_mut() = status;
        *resp.headers_mut() = headers;
        Ok(resp)
    }
}

/// What the admin is told of any failed fetch: the same for every cause.
fn unreachable(what: &str, url: &url::Url) -> String {
    format!(
        "muster could not fetch {what} from {}: it must answer over https from a public \
         address (the server log has the details)",
        shown(url)
    )
}

/// A URL as shown to an admin: without its query, which may carry secrets.
fn shown(url: &url::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_password(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!Reach::Public.allows(ip(private)), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(Reach::Public.allows(ip(public)), "{public}");
        }
        assert!(Reach::PublicAndLoopback.allows(ip("127.0.0.1")));
        assert!(!Reach::PublicAndLoopback.allows(ip("10.0.0.1")));
        assert!(!Reach::LoopbackOnly.allows(ip("93.184.216.34")));
    }

    #[test]
    fn urls_are_refused_before_any_connection() {
        let strict = Outbound { loopback: false };
        let dev = Outbound { loopback: true };
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(strict.client_for(&u("http://idp.example/")).is_err());
        assert!(strict.client_for(&u("https://127.0.0.1/")).is_err());
        assert!(strict
            .client_for(&u("https://[::ffff:169.254.169.254]/"))
            .is_err());
        assert!(strict.client_for(&u("file:///etc/passwd")).is_err());
        assert!(strict.client_for(&u("https://idp.example/")).is_ok());
        assert!(dev.client_for(&u("http://127.0.0.1:4000/")).is_ok());
        assert!(dev.client_for(&u("http://10.0.0.1/")).is_err());
        assert!(dev.client_for(&u("http://93.184.216.34/")).is_err());
    }
}
