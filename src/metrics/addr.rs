//! `--metrics ADDR`: where the metrics are served.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Parses `HOST:PORT` (an IPv4 address, `[IPv6]` or `localhost`) or
/// `:PORT` (127.0.0.1). Port 0 picks a free one. No name is looked up:
/// `localhost` is 127.0.0.1, and any other name is refused.
pub fn parse(text: &str) -> Result<SocketAddr, String> {
    let bad = || {
        format!(
            "--metrics takes HOST:PORT (an IPv4 address, [IPv6], localhost) or :PORT, got `{}`",
            crate::safe::line(text)
        )
    };
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let ip = match host {
        "" | "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => match h.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => IpAddr::V6(v6.parse().map_err(|_| bad())?),
            None => IpAddr::V4(h.parse().map_err(|_| bad())?),
        },
    };
    Ok(SocketAddr::new(ip, port))
}

/// The URL a person pastes into a browser or a scrape config.
pub fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/metrics")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_the_flag_takes_them() {
        let ok = |t: &str| parse(t).unwrap().to_string();
        assert_eq!(ok(":9464"), "127.0.0.1:9464");
        assert_eq!(ok("localhost:0"), "127.0.0.1:0");
        assert_eq!(ok("0.0.0.0:80"), "0.0.0.0:80");
        assert_eq!(ok("[::1]:9464"), "[::1]:9464");
        for bad in [
            "9464",
            "host.example:1",
            ":99999",
            "::1:80",
            "[::1]",
            "1.2.3.4:",
        ] {
            assert!(parse(bad).is_err(), "{bad} was taken");
        }
        assert_eq!(url(parse(":1").unwrap()), "http://127.0.0.1:1/metrics");
    }
}
