//! The client's address: the connection's peer, or, when the peer is one of the reverse
//! proxies the operator trusts (`MUSTER_TRUSTED_PROXIES`), the address that proxy reports in
//! `X-Forwarded-For`. Nobody else can choose the address muster throttles them by.

use actix_web::HttpRequest;
use ipnet::IpNet;
use std::net::IpAddr;

/// The address a request comes from, for throttling and the activity log.
pub fn client_address(req: &HttpRequest, trusted: &[IpNet]) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".to_owned();
    };
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    behind(peer, &forwarded, trusted).to_string()
}

/// Walks `X-Forwarded-For` from the nearest hop while each hop is trusted: the first
/// address not trusted is the client. A hop that does not parse ends the walk there.
fn behind(peer: IpAddr, forwarded: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut client = peer;
    if !is_trusted(&client) {
        return client;
    }
    let hops = forwarded.iter().flat_map(|v| v.split(',')).map(str::trim);
    for hop in hops.rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(&client) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_trusted_proxies_say_who_the_client_is() {
        let trusted = crate::config::parse_trusted("10.0.0.0/8, 192.0.2.1").unwrap();
        let xff = ["203.0.113.9, 10.1.1.1"];
        // From the proxy: the last untrusted hop.
        assert_eq!(behind(ip("192.0.2.1"), &xff, &trusted), ip("203.0.113.9"));
        // A client that forges the header directly is itself the address.
        assert_eq!(
            behind(ip("198.51.100.4"), &xff, &trusted),
            ip("198.51.100.4")
        );
        // A client that forges a leading hop through the proxy gets only its own address.
        let forged = ["1.2.3.4, 203.0.113.9"];
        assert_eq!(
            behind(ip("192.0.2.1"), &forged, &trusted),
            ip("203.0.113.9")
        );
        // No header, or junk: the proxy itself.
        assert_eq!(behind(ip("192.0.2.1"), &[], &trusted), ip("192.0.2.1"));
        assert_eq!(
            behind(ip("192.0.2.1"), &["junk"], &trusted),
            ip("192.0.2.1")
        );
        assert!(crate::config::parse_trusted("10.0.0.0/8,nonsense").is_err());
        assert!(crate::config::parse_trusted("").unwrap().is_empty());
    }
}
